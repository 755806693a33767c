-- Per project: categories and tech stack matched by whole tokens against the shared taxonomy,
-- log-scaled popularity in [0, 1], the text to embed and its content hash.
with projects as (
    select * from {{ ref('dbt_projects') }}
),

project_tokens as (
    select
        project_key,
        {{ padded_tokens("concat_ws(' ', name, description, array_to_string(topics, ' '), language, readme_excerpt)") }} as text_tokens,
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

matches as (
    select p.project_key, t.kind, t.label
    from project_tokens as p
    inner join taxonomy as t
        on t.scope = 'any' and position(t.tokens in p.text_tokens) > 0
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
