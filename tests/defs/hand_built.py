"""Tables that dbt builds in the pipeline, built by hand for tests that call assets directly."""

from octorec import constants as c
from octorec.warehouse import Warehouse


def create_scoring_users(warehouse: Warehouse) -> None:
    """`dbt_user_project_similarities` as its model selects it (dbt/models/marts), from the
    `dbt_user_embeddings_data` and `user_embeddings` tables already in `warehouse`."""
    warehouse.execute(
        f"CREATE TABLE {c.DBT_USER_PROJECT_SIMILARITIES} AS SELECT d.user_login, e.embedding, "
        "e.semantic_embedding, "
        "d.categories, d.tech_stack, d.known_projects, d.dismissed_projects, d.profile_basis, "
        "e.semantic_basis "
        f"FROM {c.DBT_USER_EMBEDDINGS_DATA} AS d "
        f"INNER JOIN {c.USER_EMBEDDINGS} AS e ON e.user_login = d.user_login"
    )
