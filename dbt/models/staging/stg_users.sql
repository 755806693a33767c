select
    trim(login) as user_login,
    lower(trim(login)) as user_key,
    nullif(trim(name), '') as name,
    nullif(trim(bio), '') as bio,
    nullif(trim(company), '') as company,
    declared_categories,
    declared_tech_stack
from {{ source('raw', 'users') }}
