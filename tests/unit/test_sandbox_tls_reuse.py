"""A sandbox kept in a file keeps its certificate across restarts (``load_tls_material``): the workspaces connected to
it store its ``ca.pem``, and a new CA at every start made a restarted ``--db`` sandbox untrusted by all of them (the
fault matrix's "sandbox restarted mid-run" cell)."""

from __future__ import annotations

from pathlib import Path

from salesbridge.sandbox.server.tls import create_tls_material, load_tls_material


def test_the_material_written_before_is_reused_when_it_covers_the_hosts(tmp_path: Path) -> None:
    written = create_tls_material(tmp_path)
    loaded = load_tls_material(tmp_path)
    assert loaded == written
    assert loaded.server_context() is not None


def test_other_hosts_missing_files_or_a_foreign_ca_are_not_reused(tmp_path: Path) -> None:
    assert load_tls_material(tmp_path) is None
    create_tls_material(tmp_path)
    assert load_tls_material(tmp_path, hosts=("127.0.0.1", "sandbox.example")) is None
    other = create_tls_material(tmp_path / "other")
    (tmp_path / "ca.pem").write_bytes(other.ca_bundle.read_bytes())
    assert load_tls_material(tmp_path) is None
    (tmp_path / "server.pem").write_text("not a certificate")
    assert load_tls_material(tmp_path) is None
