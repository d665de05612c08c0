"""``salesbridge serve`` refuses, before opening anything, to serve beyond loopback without a public address: the
console's links and the one host it answers would otherwise be the bound address (0.0.0.0), nobody's."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from salesbridge.cli import app


def test_serving_beyond_loopback_needs_the_public_base_url(tmp_path: Path) -> None:
    certificate = tmp_path / "console.pem"
    certificate.write_text("not read before the check", encoding="utf-8")
    runner = CliRunner(env={"SALESBRIDGE_PUBLIC_BASE_URL": None, "COLUMNS": "200"})

    refused = runner.invoke(
        app,
        ["serve", "--host", "0.0.0.0", "--certfile", str(certificate), "--keyfile", str(certificate),
         "--db-url", f"sqlite:///{tmp_path / 'never.db'}"],
    )  # fmt: skip

    assert refused.exit_code == 2, refused.output
    assert "SALESBRIDGE_PUBLIC_BASE_URL" in refused.output
    assert not (tmp_path / "never.db").exists()
