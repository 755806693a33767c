-- What the scorer needs per user: their semantic vector (not the hybrid one, whose blocks are
-- scaled by the content weights), category and tech-stack sets, and the projects to exclude
-- (known ones, and those the user dismissed).
-- One row per user; the users × projects product is never materialised here, the scorer
-- computes it in bounded blocks.
select
    d.user_login,
    e.embedding,
    e.semantic_embedding,
    d.categories,
    d.tech_stack,
    d.known_projects,
    d.dismissed_projects,
    d.declared_categories,
    d.declared_tech_stack,
    d.profile_basis,
    e.semantic_basis
from {{ ref('dbt_user_embeddings_data') }} as d
inner join {{ source('octorec', 'user_embeddings') }} as e on e.user_login = d.user_login
