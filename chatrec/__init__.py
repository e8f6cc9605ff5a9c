"""chatrec: an LLM-augmented, interactive and explainable recommender run as a data pipeline.

The library holds all logic and knows nothing of Prefect; `flows/` and `tasks/` wrap it.
"""

__version__ = "0.1.0"
