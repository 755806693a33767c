"""Names shared by the pipeline, the warehouse and dbt, defined once."""

from typing import Final

MODEL_NAME: Final = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_DIMENSIONS: Final = 384

RAW_SCHEMA: Final = "raw"
RAW_REPOSITORIES: Final = "repositories"
RAW_USERS: Final = "users"
RAW_INTERACTIONS: Final = "interactions"
RAW_REJECTED_ROWS: Final = "rejected_rows"
RAW_HTTP_CACHE: Final = "http_cache"
RAW_FEEDBACK: Final = "feedback"
"""What users told the API about projects: one `like` or `dismiss` per (user, project)."""

DBT_PROJECTS: Final = "dbt_projects"
DBT_PROJECT_ENRICHED_DATA: Final = "dbt_project_enriched_data"
DBT_USER_EMBEDDINGS_DATA: Final = "dbt_user_embeddings_data"
DBT_USER_PROJECT_SIMILARITIES: Final = "dbt_user_project_similarities"

PROJECT_SEMANTIC_EMBEDDINGS: Final = "project_semantic_embeddings"
PROJECT_HYBRID_EMBEDDINGS: Final = "project_hybrid_embeddings"
USER_EMBEDDINGS: Final = "user_embeddings"
USER_PROJECT_SIMILARITIES: Final = "user_project_similarities"
RECOMMENDATION_MODEL: Final = "recommendation_model"
"""The asset that fits the learned ranker."""
RECOMMENDATION_MODELS: Final = "recommendation_models"
"""Every ranking model `recommendation_model` stored; scoring uses the newest."""
EMBEDDING_CACHE: Final = "embedding_cache"
PIPELINE_STEPS: Final = "pipeline_steps"
SHARD_STEPS: Final = "shard_steps"
STAGED_SUFFIX: Final = "_shards"
"""A sharded table's shards are staged in `<table>_shards` until every shard is done."""

TAXONOMY_CATEGORIES: Final = "taxonomy_categories"
TAXONOMY_TECH_STACK: Final = "taxonomy_tech_stack"
