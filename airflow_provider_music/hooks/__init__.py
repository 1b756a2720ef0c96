"""Hooks of airflow-provider-music, one module per API."""
