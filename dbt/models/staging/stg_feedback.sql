-- Users' feedback from the API: a like counts as an interaction (stg_interactions), a dismissal
-- as an exclusion (dismissed_projects in dbt_user_embeddings_data).
select
    trim(user_login) as user_login,
    lower(trim(user_login)) as user_key,
    lower(trim(project_full_name)) as project_key,
    kind,
    created_at
from {{ source('raw', 'feedback') }}
where kind in ('like', 'dismiss')
