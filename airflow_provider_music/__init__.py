"""Apache Airflow provider for music-AI APIs: Riffusion (useapi.net), ACRCloud and AudioShake."""

__version__ = "0.1.0"
