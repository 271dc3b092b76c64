"""Evidence files, on SQLite and PostgreSQL: added, listed and got back by hash; refused by content
and size with nothing written; stored once; a replaced, deleted or re-pointed file named by
``audit verify`` (and refused by ``evidence get`` and the 档案 package); the package's files hash
to its manifest; another township's official can neither read nor add."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import signal
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from engine.ops.ledger import TITLE
from engine.store.evidence_files import EvidenceFiles, safe_file_name
from tests.runner import Rectify, build_county, fingerprint

CASE, OTHER = "2014-1-0001", "2014-1-0002"  # T1-01 (城关镇, 王强), T2-01 (河西乡, 赵刚)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(17)
OLE2_HEADER = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


def zipped(*names: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            # a fixed date: the bytes are in the tests' ids, which every xdist worker must collect alike
            archive.writestr(zipfile.ZipInfo(name, date_time=(2014, 3, 16, 0, 0, 0)), "<x/>")
    return out.getvalue()


DOCX = zipped("[Content_Types].xml", "word/document.xml")
XLSX = zipped("[Content_Types].xml", "xl/workbook.xml")
OFD = zipped("OFD.xml", "Doc_0/Document.xml")
XLS = OLE2_HEADER + "Workbook".encode("utf-16-le") + b"\x00\x00" + bytes(64)


@pytest.fixture
def run(rectify, tmp_path, monkeypatch) -> Rectify:
    """The CLI county with a case in each township; PostgreSQL's evidence folder configured
    (SQLite's is beside its file)."""
    monkeypatch.delenv("RECTIFY_EVIDENCE_MAX_MB", raising=False)
    if rectify.db.startswith("postgresql"):
        monkeypatch.setenv("RECTIFY_EVIDENCE_DIR", str(tmp_path / "evidence"))
    else:
        monkeypatch.delenv("RECTIFY_EVIDENCE_DIR", raising=False)
    rectify("case", "open", "T1-01", "--problem", "2", who="王强", now="2014-03-05")
    rectify("case", "open", "T2-01", "--problem", "4", who="赵刚", now="2014-03-05")
    return rectify


def root(run: Rectify, tmp_path: Path) -> Path:
    return tmp_path / "evidence" if run.db.startswith("postgresql") else tmp_path / "county.db.evidence"


def stored(run: Rectify, tmp_path: Path) -> list[Path]:
    """Every file in the evidence store (temporary ones included: none may be left)."""
    return sorted(p for p in root(run, tmp_path).rglob("*") if p.is_file())


def write(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def add(run: Rectify, ref: str, *files: str, who: str = "王强", code: int = 0, extra: tuple[str, ...] = ()):
    return run("evidence", "add", ref, *files, *extra, who=who, now="2014-03-20", code=code)


def sql(db_url: str, statement: str) -> None:
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


# --- add, list, get --------------------------------------------------------------------------

def test_files_go_in_and_come_back_by_hash(run, tmp_path):
    plan, sheet = write(tmp_path, "整改方案.pdf", PDF), write(tmp_path, "测评表.docx", DOCX)
    out = add(run, CASE, plan, extra=("--fact", "plan_published", "--note", "公示照片另附")).output
    assert "→ 事实 fact plan_published" in out
    add(run, CASE, sheet)
    listed = run.json("evidence", "list", CASE, who="王强")
    assert [(e["name"], e["fact"], e["sha256"], e["size"], e["type"], e["added_by"]) for e in listed] == [
        ("整改方案.pdf", "plan_published", sha(PDF), len(PDF), "PDF", "王强"),
        ("测评表.docx", None, sha(DOCX), len(DOCX), "Word (docx)", "王强")]
    assert listed[0]["note"] == "公示照片另附"
    assert listed[1]["attached_to"] == "整顿对象 case"
    got = tmp_path / "got.pdf"
    assert sha(PDF) in run("evidence", "get", CASE, str(listed[0]["id"]), "-o", str(got), who="王强").output
    assert got.read_bytes() == PDF
    refused = run("evidence", "get", CASE, str(listed[0]["id"]), "-o", str(got), who="王强", code=2)
    assert "already exists" in refused.output
    assert got.read_bytes() == PDF
    folder = tmp_path / "out"
    folder.mkdir()
    run("evidence", "get", CASE, "测评表.docx", "-o", str(folder), who="王强")  # by its name, into a folder
    assert (folder / "测评表.docx").read_bytes() == DOCX
    history = run.json("history", CASE)
    chained = [e["data"] for e in history if e["kind"] == "evidence"]
    assert [(d["sha256"], d["name"], d["fact"]) for d in chained] == [
        (sha(PDF), "整改方案.pdf", "plan_published"), (sha(DOCX), "测评表.docx", None)]
    assert "2 个证据文件 evidence files" in run("audit", "verify").output


def test_the_same_content_is_stored_once_read_only(run, tmp_path):
    add(run, CASE, write(tmp_path, "a.pdf", PDF))
    add(run, OTHER, write(tmp_path, "b.pdf", PDF), who="赵刚")
    files = stored(run, tmp_path)
    assert files == [root(run, tmp_path) / "sha256" / sha(PDF)[:2] / sha(PDF)]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o440
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o2770  # shared with the group, like the database
    assert [e["name"] for e in run.json("evidence", "list", OTHER, who="赵刚")] == ["b.pdf"]


@pytest.mark.parametrize(("name", "data", "type_"), [
    ("x.png", PNG, "PNG"), ("x.jpg", b"\xff\xd8\xff\xe0" + bytes(20), "JPEG"), ("x.gif", b"GIF89a" + bytes(10), "GIF"),
    ("x.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(8), "WebP"), ("x.xlsx", XLSX, "Excel (xlsx)"),
    ("x.xls", XLS, "Excel (xls)"), ("x.ofd", OFD, "OFD"), ("no-extension", PDF, "PDF")])
def test_accepted_kinds_are_judged_by_content(run, tmp_path, name, data, type_):
    add(run, CASE, write(tmp_path, name, data))
    assert run.json("evidence", "list", CASE, who="王强")[0]["type"] == type_


@pytest.mark.parametrize(("name", "data", "looks"), [
    ("整改方案.pdf", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "a web page"),
    ("自查报告.pdf", b"MZ\x90\x00\x03" + bytes(60), "an executable program"),
    ("测评表.xlsx", b"\x7fELF\x02\x01\x01" + bytes(20), "an executable program"),
    ("run.pdf", b"#!/bin/sh\nrm -rf /\n", "a script"),
    ("空.pdf", b"", "is empty"),
    ("archive.docx", zipped("evil.exe"), "a ZIP archive"),
    ("setup.doc", OLE2_HEADER + "SummaryInformation".encode("utf-16-le") + bytes(64), "an OLE2 compound file"),
    ("notes.pdf", b"just some text\n", "text")])
def test_refused_kinds_write_nothing(run, tmp_path, name, data, looks):
    before = fingerprint(run.db)
    out = add(run, CASE, write(tmp_path, name, data), code=2).output
    assert name in out
    assert looks in out
    assert "nothing was stored" in out
    assert fingerprint(run.db) == before
    assert stored(run, tmp_path) == []


def test_one_refused_file_stores_none_of_them(run, tmp_path):
    before = fingerprint(run.db)
    add(run, CASE, write(tmp_path, "ok.pdf", PDF), write(tmp_path, "bad.pdf", b"<html></html>"), code=2)
    assert fingerprint(run.db) == before
    assert stored(run, tmp_path) == []


def test_size_limits(run, tmp_path, monkeypatch):
    big = tmp_path / "扫描件.pdf"
    with big.open("wb") as out:  # sparse: 20 MiB + 1 byte costs nothing to write
        out.write(PDF)
        out.truncate(20 * 1024 * 1024 + 1)
    before = fingerprint(run.db)
    out = add(run, CASE, str(big), code=2).output
    assert "too large" in out
    assert "20 MiB" in out
    monkeypatch.setenv("RECTIFY_EVIDENCE_MAX_MB", "1")
    small = write(tmp_path, "小.pdf", PDF + bytes(1024 * 1024))
    assert "at most 1 MiB" in add(run, CASE, small, code=2).output
    assert fingerprint(run.db) == before
    assert stored(run, tmp_path) == []
    monkeypatch.setenv("RECTIFY_EVIDENCE_MAX_MB", "lots")
    assert "RECTIFY_EVIDENCE_MAX_MB" in add(run, CASE, small, code=2).output


def test_bad_input_is_exit_2(run, tmp_path):
    pdf = write(tmp_path, "a.pdf", PDF)
    before = fingerprint(run.db)
    assert "fact not found: no_such_fact" in add(run, CASE, pdf, extra=("--fact", "no_such_fact"), code=2).output
    assert "problem not found" in add(run, CASE, pdf, extra=("--problem", "9"), code=2).output
    assert "not both" in add(run, CASE, pdf, extra=("--fact", "plan_made", "--problem", "1"), code=2).output
    assert "file not found" in add(run, CASE, str(tmp_path / "missing.pdf"), code=2).output
    assert "not a regular file" in add(run, CASE, str(tmp_path), code=2).output
    for which in ("99", "9" * 30, "无此文件.pdf"):
        assert "evidence not found" in run("evidence", "get", CASE, which, who="王强", code=2).output
    assert fingerprint(run.db) == before
    assert stored(run, tmp_path) == []


def test_evidence_on_a_problem(run, tmp_path):
    run("problem", "add", CASE, "--category", "2", "--description", "班子软弱", who="王强", now="2014-03-10")
    add(run, CASE, write(tmp_path, "谈话记录.pdf", PDF), extra=("--problem", "1"))
    [row] = run.json("evidence", "list", CASE, who="王强")
    assert (row["problem"], row["attached_to"]) == (1, "问题 problem #1")


# --- who may ---------------------------------------------------------------------------------

def test_another_townships_official_can_neither_read_nor_add(run, tmp_path):
    add(run, CASE, write(tmp_path, "a.pdf", PDF))
    before, files = fingerprint(run.db), stored(run, tmp_path)
    other = write(tmp_path, "other.png", PNG)
    assert "outside 赵刚's jurisdiction" in add(run, CASE, other, who="赵刚", code=1).output
    assert "outside 赵刚's jurisdiction" in run("evidence", "list", CASE, who="赵刚", code=1).output
    out = tmp_path / "stolen.pdf"
    assert "outside 赵刚's jurisdiction" in run("evidence", "get", CASE, "1", "-o", str(out), who="赵刚",
                                                 code=1).output
    assert not out.exists()
    assert fingerprint(run.db) == before
    assert stored(run, tmp_path) == files
    refusals = run.json("audit", "refusals")
    assert sum("赵刚" in r["reason"] for r in refusals) == 3  # recorded like any refusal


def test_postgresql_needs_an_evidence_folder(run, tmp_path, monkeypatch):
    if not run.db.startswith("postgresql"):
        pytest.skip("SQLite keeps its evidence beside its file")
    monkeypatch.delenv("RECTIFY_EVIDENCE_DIR")
    out = add(run, CASE, write(tmp_path, "a.pdf", PDF), code=2).output
    assert "--evidence-dir" in out
    assert "RECTIFY_EVIDENCE_DIR" in out
    assert "the audit log verifies" in run("audit", "verify").output  # nothing to check without evidence
    folder = tmp_path / "given"
    run("--evidence-dir", str(folder), "evidence", "add", CASE, str(tmp_path / "a.pdf"), who="王强", now="2014-03-20")
    assert [p.name for p in folder.rglob("*") if p.is_file()] == [sha(PDF)]


# --- tampering -------------------------------------------------------------------------------

def _overwrite(path: Path, data: bytes) -> None:
    os.chmod(path, 0o640)
    path.write_bytes(data)


def test_a_replaced_or_deleted_file_is_named(run, tmp_path):
    add(run, CASE, write(tmp_path, "整改方案.pdf", PDF))
    add(run, OTHER, write(tmp_path, "测评表.png", PNG), who="赵刚")
    files = EvidenceFiles(root(run, tmp_path))
    _overwrite(files.path_of(sha(PDF)), PDF.replace(b"Catalog", b"Catalo9"))
    files.path_of(sha(PNG)).unlink()
    out = run("audit", "verify", code=1).output
    assert f"{CASE}: 证据文件“整改方案.pdf”（sha256 {sha(PDF)}）" in out
    assert "it was replaced or damaged" in out
    assert f"{OTHER}: 证据文件“测评表.png”（sha256 {sha(PNG)}）" in out
    assert "is missing from the evidence store" in out
    assert "2 处问题" in out
    assert "整改方案.pdf" not in run("audit", "verify", "--case", OTHER, code=1).output  # one case: its files only
    target = tmp_path / "got.pdf"
    got = run("evidence", "get", CASE, "1", "-o", str(target), who="王强", code=1).output
    assert "整改方案.pdf" in got
    assert sha(PDF) in got
    assert not target.exists()
    assert list(tmp_path.glob(".got.pdf*")) == []  # no temporary file left either
    package = tmp_path / "档案.zip"
    stopped = run("ledger", "export", "--with-evidence", str(package), who="李明", code=1).output
    assert "整改方案.pdf" in stopped
    assert "replaced or damaged" in stopped
    assert not package.exists()
    assert list(tmp_path.glob(".档案.zip*")) == []
    add(run, CASE, write(tmp_path, "again.pdf", PDF))  # adding the true content again repairs the store
    assert files.read(sha(PDF), "x") == PDF


def test_an_altered_or_deleted_row_is_named(run, tmp_path):
    add(run, CASE, write(tmp_path, "a.pdf", PDF))
    add(run, CASE, write(tmp_path, "b.png", PNG))
    sql(run.db, f"UPDATE evidence SET sha256 = '{sha(PNG)}' WHERE filename = 'a.pdf'")
    out = run("audit", "verify", code=1).output
    assert "evidence #1 'a.pdf'" in out
    assert "the row was altered" in out
    sql(run.db, "DELETE FROM evidence WHERE filename = 'b.png'")
    assert "whose row is gone" in run("audit", "verify", code=1).output


# --- the 档案 package ------------------------------------------------------------------------

def test_the_package_round_trip(run, tmp_path):
    add(run, CASE, write(tmp_path, "整改方案.pdf", PDF), extra=("--fact", "plan_published"))
    (tmp_path / "b").mkdir()
    add(run, CASE, write(tmp_path / "b", "整改方案.pdf", PNG))  # the same name, another file
    add(run, CASE, write(tmp_path, "CON.docx", DOCX))
    add(run, OTHER, write(tmp_path, 'a:b*c?"..".xlsx', XLSX), who="赵刚")
    run("duty", "submit", "screening_report", "--unit", "T1", "--file", write(tmp_path, "汇总表.pdf", PDF + b"%T1"),
        who="王强", now="2014-03-12")
    package = tmp_path / "档案.zip"
    out = run("ledger", "export", "--with-evidence", str(package), who="李明").output
    assert "5 个证据文件" in out
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
        assert names[0] == f"{TITLE}.xlsx"
        assert names[-1] == "清单.csv"
        manifest = list(csv.DictReader(io.StringIO(archive.read("清单.csv").decode("utf-8-sig"))))
        for row in manifest:
            assert sha(archive.read(row["路径 path"])) == row["sha256"]
            assert int(row["大小（字节）size"]) == archive.getinfo(row["路径 path"]).file_size
    case1 = f"中共城关镇委员会/{CASE} 城关镇第1村党支部"
    assert [r["路径 path"] for r in manifest] == [
        f"{case1}/整改方案.pdf", f"{case1}/整改方案 (2).pdf", f"{case1}/_CON.docx",
        f"中共河西乡委员会/{OTHER} 河西乡第1村党支部/a_b_c__.._.xlsx",
        "乡镇报送/中共城关镇委员会/汇总表.pdf"]
    assert manifest[0]["附于 attached to"].startswith("事实 fact plan_published")
    assert manifest[0]["添加人 added by"] == "王强"
    assert manifest[0]["整顿对象 case"] == f"{CASE} 城关镇第1村党支部"
    assert all(not n.startswith("/") and ".." not in n.split("/") for n in names)


def test_the_package_needs_a_county_wide_reader(run, tmp_path):
    package = tmp_path / "p.zip"
    run("ledger", "export", "--with-evidence", str(package), who="王强", code=1)
    assert not package.exists()
    assert "not both" in run("ledger", "export", "--with-evidence", str(package), "-o", "x.xlsx", who="李明",
                             code=2).output


# --- the store itself ------------------------------------------------------------------------

def test_names_are_made_safe_for_any_system():
    assert safe_file_name("..") == "_"
    assert safe_file_name("../../etc/passwd") == ".._.._etc_passwd"
    assert safe_file_name("a\x1b[2Jb.pdf") == "a_[2Jb.pdf"
    assert safe_file_name("nul.txt") == "_nul.txt"
    assert safe_file_name("报告. ") == "报告"
    assert len(safe_file_name("长" * 300 + ".pdf")) == 120
    assert safe_file_name("长" * 300 + ".pdf").endswith(".pdf")


def test_a_store_refuses_what_it_cannot_prove(tmp_path):
    files = EvidenceFiles(tmp_path / "store")
    blob = files.add(write(tmp_path, "a.pdf", PDF), "a.pdf")
    assert files.add(write(tmp_path, "b.pdf", PDF), "b.pdf") == blob
    assert files.read(blob.sha256, "a.pdf") == PDF
    assert [p.name for p in (tmp_path / "store").rglob("*") if p.is_file()] == [blob.sha256]  # no temporary file
    with pytest.raises(Exception, match="not a SHA-256"):
        files.path_of("../../x")
    with pytest.raises(Exception, match="is missing"):
        files.read("0" * 64, "gone.pdf")
    with pytest.raises(Exception, match="no evidence folder"):
        EvidenceFiles(None).add(write(tmp_path, "c.pdf", PDF), "c.pdf")


# --- crashes (real processes killed) ------------------------------------------------------------

def _killable(db: Path, faults: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RECTIFY_DB": f"sqlite:///{db}", "RECTIFY_FAILPOINTS": faults}
    for name in ("RECTIFY_USER", "RECTIFY_NOW", "RECTIFY_CONFIG", "RECTIFY_EVIDENCE_DIR", "RECTIFY_EVIDENCE_MAX_MB"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args], env=env, cwd=db.parent,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["evidence.before_rename", "commit.before"])
def test_killed_while_adding_it_leaves_no_half_file_and_no_row(tmp_path, built_counties, point):
    run = built_counties.copy("county", build_county, "sqlite", tmp_path)
    run("case", "open", "T1-01", who="王强", now="2014-03-05")
    db, pdf = tmp_path / "county.db", write(tmp_path, "整改方案.pdf", PDF)
    args = ("--as", "王强", "--now", "2014-03-20", "evidence", "add", CASE, pdf)
    before = fingerprint(run.db)
    killed = _killable(db, f"{point}=kill", *args)
    assert killed.returncode == -signal.SIGKILL
    assert killed.stdout == ""
    assert fingerprint(run.db) == before
    named = root(run, tmp_path) / "sha256" / sha(PDF)[:2] / sha(PDF)
    # before the rename nothing is under the hash (a temporary file may be left: never read);
    # killed before the commit, the file is whole under its hash, and no row names it
    assert named.exists() == (point == "commit.before")
    done = _killable(db, "", *args)
    assert done.returncode == 0, done.stderr
    assert "证据 evidence #1" in done.stdout
    assert named.read_bytes() == PDF
    assert "1 个证据文件 evidence files" in run("audit", "verify").output
