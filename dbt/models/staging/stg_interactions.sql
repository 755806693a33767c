-- A user's stars and owned repositories as the source gave them, and the projects they liked
-- through the API (kind 'like'): each makes the project one of the user's known projects.
select
    trim(user_login) as user_login,
    lower(trim(user_login)) as user_key,
    lower(trim(repo_full_name)) as project_key,
    kind,
    interacted_at
from {{ source('raw', 'interactions') }}
union all
select
    user_login,
    user_key,
    project_key,
    kind,
    created_at as interacted_at
from {{ ref('stg_feedback') }}
where kind = 'like'
