{# Macros that keep the models portable between DuckDB and PostgreSQL. #}
{#
  Whole-token matching. Text is lower-cased, every run of characters other than letters, digits,
  '+' and '#' becomes one space, and the result is padded with spaces, so that
  position(' ai ' in tokens) finds the word "ai" but not "email", and ' c ' never matches "css".
  Keywords are normalised the same way, which makes multi-word keywords ("machine learning")
  equal hyphenated topics ("machine-learning") too.
#}
{% macro padded_tokens(expression) -%}
    (' ' || trim(regexp_replace(lower(coalesce({{ expression }}, '')), '[^a-z0-9+#]+', ' ', 'g')) || ' ')
{%- endmacro %}

{#
  Running text (a description, a README) as whole tokens: as `padded_tokens`, except that a
  hyphen between two token characters joins them into one token, so "neural-network" and
  "ai-driven" are single words there. A keyword matches such a word only as a whole, through its
  hyphenated form (`stg_taxonomy.compound`: "neural network" matches "neural-network", "network"
  does not).
#}
{% macro text_tokens(expression) -%}
    (' ' || trim(regexp_replace(regexp_replace(
        ' ' || regexp_replace(lower(coalesce({{ expression }}, '')), '[^a-z0-9+#-]+', ' ', 'g') || ' ',
        '-* -*', ' ', 'g'), ' +', ' ', 'g')) || ' ')
{%- endmacro %}

{#
  Padded tokens with every inner space doubled: ' neural  network '. Occurrences of a keyword
  spaced so never overlap in a text spaced so (' a ' occurs twice in '  a  a  '), which lets
  `occurrences` count them with `replace`.
#}
{% macro spaced_tokens(tokens) -%}
    (' ' || replace(trim({{ tokens }}), ' ', '  ') || ' ')
{%- endmacro %}

{# How often the spaced phrase `phrase` occurs in the spaced text `text` (see `spaced_tokens`). #}
{% macro occurrences(phrase, text) -%}
    cast((length({{ text }}) - length(replace({{ text }}, {{ phrase }}, ''))) / length({{ phrase }}) as integer)
{%- endmacro %}

{% macro empty_text_array() -%}
    {{ return(adapter.dispatch('empty_text_array', 'octorec')()) }}
{%- endmacro %}

{% macro default__empty_text_array() -%}
    cast('{}' as text[])
{%- endmacro %}

{% macro duckdb__empty_text_array() -%}
    cast([] as varchar[])
{%- endmacro %}

{% macro double_type() -%}
    {{ return(adapter.dispatch('double_type', 'octorec')()) }}
{%- endmacro %}

{% macro default__double_type() -%}
    double precision
{%- endmacro %}

{% macro duckdb__double_type() -%}
    double
{%- endmacro %}

{# Byte-wise ordering on every backend (PostgreSQL would otherwise sort by the server's locale),
   so ties break the same way on DuckDB and PostgreSQL. #}
{% macro bytewise(expression) -%}
    {{ return(adapter.dispatch('bytewise', 'octorec')(expression)) }}
{%- endmacro %}

{% macro default__bytewise(expression) -%}
    {{ expression }} collate "C"
{%- endmacro %}

{% macro duckdb__bytewise(expression) -%}
    {{ expression }}
{%- endmacro %}
