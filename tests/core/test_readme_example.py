"""The README's emulator example, kept honest."""

from airflow_provider_music.hooks.riffusion import RiffusionHook


def test_compose_survives_a_rate_limit(music_emulator):
    music_emulator.add_fault(path="music/create-prompt", status=429, retry_after="0", times=1)
    job_ids = RiffusionHook().create_prompt("calm piano for a rainy morning")
    assert len(job_ids) == 2
    assert music_emulator.count("POST", "/v1/riffusion/music/create-prompt") == 2
