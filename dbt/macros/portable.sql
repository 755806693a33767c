{# Macros that keep the models portable between DuckDB and PostgreSQL. #}
{#
  Whole-token matching. Text is lower-cased, every run of characters other than letters, digits,
  '+' and '#' becomes one space, and the result is padded with spaces, so that
  position(' ai ' in tokens) finds the word "ai" but not "email", and ' c ' never matches "css".
  Keywords are normalised the same way, which makes multi-word keywords ("machine learning")
  match hyphenated topics ("machine-learning") too.
#}
{% macro padded_tokens(expression) -%}
    (' ' || trim(regexp_replace(lower(coalesce({{ expression }}, '')), '[^a-z0-9+#]+', ' ', 'g')) || ' ')
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
