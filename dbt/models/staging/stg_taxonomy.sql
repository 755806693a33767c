-- The one taxonomy users and projects share: every way of naming a category or a tech-stack
-- entry, normalised to padded tokens. `scope = 'exact'` aliases ("go", "c", "r") only match a
-- whole language name or topic, never a word in running text. `compound` is the keyword as one
-- hyphenated word of running text (' machine-learning '), `spaced` its tokens spaced for
-- counting occurrences (`spaced_tokens`).
with names as (
    select 'category' as kind, category as label, {{ padded_tokens('keyword') }} as tokens, 'any' as scope
    from {{ ref('taxonomy_categories') }}
    union
    select 'category', category, {{ padded_tokens('category') }}, 'any'
    from {{ ref('taxonomy_categories') }}
    union
    select 'tech_stack', tech_stack, {{ padded_tokens('alias') }}, scope
    from {{ ref('taxonomy_tech_stack') }}
    union
    select 'tech_stack', tech_stack, {{ padded_tokens('tech_stack') }}, 'exact'
    from {{ ref('taxonomy_tech_stack') }}
)

select
    kind,
    label,
    tokens,
    scope,
    ' ' || replace(trim(tokens), ' ', '-') || ' ' as compound,
    {{ spaced_tokens('tokens') }} as spaced
from names
where trim(tokens) <> ''
