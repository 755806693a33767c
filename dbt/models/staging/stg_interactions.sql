select
    trim(user_login) as user_login,
    lower(trim(user_login)) as user_key,
    lower(trim(repo_full_name)) as project_key,
    kind,
    interacted_at
from {{ source('raw', 'interactions') }}
