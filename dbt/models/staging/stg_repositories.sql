-- Repositories with trimmed text and a case-insensitive key (GitHub names ignore case).
select
    trim(full_name) as full_name,
    lower(trim(full_name)) as project_key,
    split_part(trim(full_name), '/', 1) as owner,
    split_part(trim(full_name), '/', 2) as name,
    nullif(trim(description), '') as description,
    nullif(trim(language), '') as language,
    topics,
    stars,
    forks,
    open_issues,
    created_at,
    pushed_at,
    is_fork,
    is_archived,
    is_disabled,
    is_available,
    nullif(trim(readme_excerpt), '') as readme_excerpt
from {{ source('raw', 'repositories') }}
