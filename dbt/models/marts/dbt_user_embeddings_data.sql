-- Per user: the profile text to embed, the categories and tech stack they declared (mapped
-- through the shared taxonomy) or else the most frequent ones among the projects they starred or
-- own, every catalogue project they already know (starred, owned or liked through the API;
-- never to be recommended) and those they dismissed through the API (never recommended either,
-- and not counted as known). The declared labels are kept apart too (empty when none), so a
-- user can be rebuilt from part of their stars by the same rules (`octorec.scoring.profiles`).
with projects as (
    select
        project_full_name,
        lower(project_full_name) as project_key,
        split_part(lower(project_full_name), '/', 1) as owner_key,
        categories,
        tech_stack,
        popularity
    from {{ source('octorec', 'project_hybrid_embeddings') }}
),

raw_users as (
    select * from {{ ref('stg_users') }}
),

interactions as (
    select * from {{ ref('stg_interactions') }}
),

users as (
    select
        keys.user_key,
        coalesce(max(raw_users.user_login), min(keys.user_login)) as user_login
    from (
        select user_key, user_login from raw_users
        union
        select user_key, user_login from interactions
    ) as keys
    left join raw_users on raw_users.user_key = keys.user_key
    group by keys.user_key
),

known as (
    select i.user_key, p.project_key
    from interactions as i
    inner join projects as p on p.project_key = i.project_key
    union
    select u.user_key, p.project_key
    from users as u
    inner join projects as p on p.owner_key = u.user_key
),

known_labels as (
    select k.user_key, 'category' as kind, unnest(p.categories) as label
    from known as k
    inner join projects as p on p.project_key = k.project_key
    union all
    select k.user_key, 'tech_stack' as kind, unnest(p.tech_stack) as label
    from known as k
    inner join projects as p on p.project_key = k.project_key
),

ranked_labels as (
    select
        user_key,
        kind,
        label,
        row_number() over (
            partition by user_key, kind order by count(*) desc, {{ bytewise('label') }}
        ) as label_rank
    from known_labels
    group by user_key, kind, label
),

derived as (
    select
        user_key,
        array_agg(label order by {{ bytewise('label') }}) filter (
            where kind = 'category' and label_rank <= {{ var('user_top_categories') }}
        ) as categories,
        array_agg(label order by {{ bytewise('label') }}) filter (
            where kind = 'tech_stack' and label_rank <= {{ var('user_top_tech_stack') }}
        ) as tech_stack
    from ranked_labels
    group by user_key
),

declared_values as (
    select user_key, 'category' as kind, unnest(declared_categories) as value
    from raw_users
    union all
    select user_key, 'tech_stack' as kind, unnest(declared_tech_stack) as value
    from raw_users
),

declared_labels as (
    select distinct d.user_key, d.kind, t.label
    from declared_values as d
    inner join {{ ref('stg_taxonomy') }} as t
        on t.kind = d.kind and t.tokens = {{ padded_tokens('d.value') }}
),

declared as (
    select
        user_key,
        array_agg(label order by {{ bytewise('label') }}) filter (where kind = 'category') as categories,
        array_agg(label order by {{ bytewise('label') }}) filter (where kind = 'tech_stack') as tech_stack
    from declared_labels
    group by user_key
),

dismissed as (
    select
        f.user_key,
        array_agg(p.project_full_name order by {{ bytewise('p.project_full_name') }}) as dismissed_projects
    from {{ ref('stg_feedback') }} as f
    inner join projects as p on p.project_key = f.project_key
    where f.kind = 'dismiss'
    group by f.user_key
),

known_summary as (
    select
        k.user_key,
        array_agg(p.project_full_name order by {{ bytewise('p.project_full_name') }}) as known_projects,
        count(*) as known_project_count,
        -- Summed exactly (decimal), so the mean is the same bits whatever order the database
        -- adds the rows in (a float sum over parallel threads is not).
        cast(avg(cast(p.popularity as decimal(18, 15))) as double precision) as mean_popularity
    from known as k
    inner join projects as p on p.project_key = k.project_key
    group by k.user_key
)

select
    u.user_login,
    nullif(trim(concat_ws('. ', r.bio, r.company)), '') as profile_text,
    coalesce(d.categories, dv.categories, {{ empty_text_array() }}) as categories,
    coalesce(d.tech_stack, dv.tech_stack, {{ empty_text_array() }}) as tech_stack,
    case
        when d.categories is not null or d.tech_stack is not null then 'declared'
        when dv.categories is not null or dv.tech_stack is not null then 'interactions'
        else 'none'
    end as profile_basis,
    coalesce(d.categories, {{ empty_text_array() }}) as declared_categories,
    coalesce(d.tech_stack, {{ empty_text_array() }}) as declared_tech_stack,
    coalesce(ks.known_projects, {{ empty_text_array() }}) as known_projects,
    coalesce(ks.known_project_count, 0) as known_project_count,
    coalesce(ks.mean_popularity, 0.0) as mean_popularity,
    coalesce(x.dismissed_projects, {{ empty_text_array() }}) as dismissed_projects
from users as u
left join raw_users as r on r.user_key = u.user_key
left join declared as d on d.user_key = u.user_key
left join derived as dv on dv.user_key = u.user_key
left join known_summary as ks on ks.user_key = u.user_key
left join dismissed as x on x.user_key = u.user_key
