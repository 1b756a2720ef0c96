"""Issue 22 §3: Riffusion (useapi.net) spends credits but reports no amount per song: "unknown", never 0."""

from __future__ import annotations

from airflow_provider_music.operators.riffusion import RiffusionComposeOperator


def test_compose_reports_unknown_cost_and_keeps_its_result(music_emulator, make_context, capsys):
    op = RiffusionComposeOperator(task_id="p", prompt="jazzy k-pop song", instrumental=True, poll_interval=0.05,
                                  timeout=20, max_cost=1)
    result = op.execute(make_context())
    assert result["cost"] == {"amount": "unknown", "unit": "credits",
                              "source": "useapi.net Riffusion reports no credits per song"}
    assert op.task_report.cost.amount is None and len(result["song_ids"]) == 2
    logged = capsys.readouterr().out
    assert "cost: unknown credits" in logged and "not checked: no estimate" in logged
