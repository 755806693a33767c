-- Per project: categories and tech stack matched against the shared taxonomy, log-scaled
-- popularity in [0, 1], the text to embed and its content hash.
--
-- A keyword matches a whole topic, the whole language, or a whole phrase of the project's name
-- or running text (description, README excerpt). Topics and hyphenated words of running text are
-- one token each: the topic "neural-network" matches the keyword "neural network", never
-- "network" (pytorch is not networking). Within a kind, a keyword all of whose occurrences in
-- the running text lie inside a longer keyword found there is dropped: the longest phrase wins
-- ("neural network" in a description is ai-ml, not networking).
with projects as (
    select * from {{ ref('dbt_projects') }}
),

project_tokens as (
    select
        project_key,
        -- '|' is no token character: no phrase runs from the name into the description.
        {{ padded_tokens('name') }} || '|'
        || {{ text_tokens("concat_ws(' ', description, readme_excerpt)") }} as text_tokens,
        {{ padded_tokens('language') }} as language_tokens
    from projects
),

topic_tokens as (
    select project_key, {{ padded_tokens('topic') }} as topic_tokens
    from (select project_key, unnest(topics) as topic from projects) as project_topics
),

taxonomy as (
    select * from {{ ref('stg_taxonomy') }}
),

text_keywords as (
    -- Each keyword of the running text: how often it occurs as a phrase, and whether it also
    -- occurs as one hyphenated word.
    select distinct
        p.project_key,
        t.kind,
        t.tokens,
        t.spaced,
        t.compound <> t.tokens and position(t.compound in p.text_tokens) > 0 as as_compound,
        {{ occurrences('t.spaced', spaced_tokens('p.text_tokens')) }} as phrase_count
    from project_tokens as p
    inner join taxonomy as t
        on t.scope = 'any'
        and (position(t.tokens in p.text_tokens) > 0 or position(t.compound in p.text_tokens) > 0)
),

shadowed as (
    -- Keywords every phrase occurrence of which lies inside longer keywords of the same kind.
    select k.project_key, k.kind, k.tokens
    from text_keywords as k
    inner join text_keywords as longer
        on longer.project_key = k.project_key
        and longer.kind = k.kind
        and longer.tokens <> k.tokens
        and position(k.tokens in longer.tokens) > 0
    where not k.as_compound
    group by k.project_key, k.kind, k.tokens, k.phrase_count
    having sum(longer.phrase_count * {{ occurrences('k.spaced', 'longer.spaced') }}) >= k.phrase_count
),

matches as (
    select k.project_key, t.kind, t.label
    from text_keywords as k
    inner join taxonomy as t on t.scope = 'any' and t.kind = k.kind and t.tokens = k.tokens
    where not exists (
        select 1
        from shadowed as s
        where s.project_key = k.project_key and s.kind = k.kind and s.tokens = k.tokens
    )
    union
    select p.project_key, t.kind, t.label
    from project_tokens as p
    inner join taxonomy as t on t.tokens = p.language_tokens
    union
    select tt.project_key, t.kind, t.label
    from topic_tokens as tt
    inner join taxonomy as t on t.tokens = tt.topic_tokens
),

labels as (
    select
        project_key,
        array_agg(label order by {{ bytewise('label') }}) filter (where kind = 'category') as categories,
        array_agg(label order by {{ bytewise('label') }}) filter (where kind = 'tech_stack') as tech_stack
    from matches
    group by project_key
),

popularity as (
    select
        project_key,
        case
            when max(log_stars) over () > 0 then log_stars / max(log_stars) over ()
            else cast(0 as {{ double_type() }})
        end as popularity
    from (
        select project_key, ln(cast(1 + coalesce(stars, 0) as {{ double_type() }})) as log_stars
        from projects
    ) as scaled
),

texts as (
    select
        project_key,
        concat_ws(
            ' ',
            replace(replace(name, '-', ' '), '_', ' ') || ':',
            description,
            'Topics: ' || nullif(array_to_string(topics, ', '), '') || '.',
            'Language: ' || language || '.',
            readme_excerpt
        ) as embedding_text
    from projects
)

select
    p.full_name,
    p.project_key,
    p.owner,
    p.name,
    p.description,
    p.language,
    p.topics,
    p.stars,
    p.is_fork,
    p.is_archived,
    p.pushed_at,
    coalesce(l.categories, {{ empty_text_array() }}) as categories,
    coalesce(l.tech_stack, {{ empty_text_array() }}) as tech_stack,
    pop.popularity,
    t.embedding_text,
    md5(t.embedding_text) as content_hash
from projects as p
inner join popularity as pop on pop.project_key = p.project_key
inner join texts as t on t.project_key = p.project_key
left join labels as l on l.project_key = p.project_key
