"""Testing helpers: the offline API emulator, its thread runner and the ``music_emulator`` pytest fixture.

Needs the ``testing`` extra (``pip install airflow-provider-music[testing]``). Import from the submodules:
``airflow_provider_music.testing.server.EmulatorServer`` (thread runner),
``airflow_provider_music.testing.emulator`` (app factory, state, CLI).
"""
