-- Clean projects: one row per repository (names compared without case, the most recently pushed
-- copy kept); disabled and unavailable (deleted or blocked) repositories dropped. Archived ones
-- stay (starring them still says what a user likes) and are flagged: the scorer's candidate
-- filters decide whether they may be recommended.
with ranked as (
    select
        *,
        row_number() over (
            partition by project_key
            order by pushed_at desc nulls last, stars desc nulls last, {{ bytewise('full_name') }}
        ) as copy_rank
    from {{ ref('stg_repositories') }}
)

select
    full_name,
    project_key,
    owner,
    name,
    description,
    language,
    topics,
    stars,
    forks,
    open_issues,
    is_fork,
    is_archived,
    created_at,
    pushed_at,
    readme_excerpt
from ranked
where copy_rank = 1
  and not is_disabled
  and is_available
