"""Run the deploy/ recipes in a real nginx: render a recipe's templates, start nginx as
this user on 127.0.0.1, stop it by its PID.

A recipe is a set of nginx files with ``{{placeholder}}`` fields that an admin fills in
(deploy/*/README.md); the tests fill them with ports and paths of their own and must fill
every field a file has, so a placeholder added to a recipe without a value fails loudly
instead of reaching nginx as text. nginx runs in the foreground (``daemon off``) with its
prefix, pid, logs and temp folders in a folder of the test's, so nothing of the system's
nginx is touched; relative ``include`` paths (``snippets/...``) resolve in that folder.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from orthanc import free_port

__all__ = ["DEPLOY", "SNIPPETS", "Nginx", "NginxError", "dicomweb_urls", "free_port",
           "render_recipe", "run_recipe", "web_root", "with_config"]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SNIPPETS = DEPLOY / "nginx" / "snippets"
NGINX = Path("/usr/sbin/nginx")
MIME_TYPES = Path("/etc/nginx/mime.types")
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
START_TIMEOUT = 20.0


class NginxError(RuntimeError):
    """nginx is missing, refused a config or did not start; the message has its log."""


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def render(template: Path, values: Mapping[str, str]) -> str:
    """The template with every ``{{name}}`` replaced; each one must have a value."""
    text = template.read_text("utf-8")
    missing = placeholders(text) - values.keys()
    if missing:
        raise KeyError(f"{template.relative_to(ROOT)}: no value for {sorted(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def render_recipe(files: Mapping[str, Path], values: Mapping[str, str]) -> dict[str, str]:
    """``{path in the nginx prefix: template}`` rendered; every value must be used somewhere."""
    rendered = {name: render(path, values) for name, path in files.items()}
    used = set().union(*(placeholders(path.read_text("utf-8")) for path in files.values()))
    unused = values.keys() - used
    if unused:
        raise KeyError(f"values {sorted(unused)} fill no placeholder of {sorted(files)}")
    return rendered


def run_recipe(prefix: Path, templates: Sequence[Path], values: Mapping[str, str],
               ports: list[int]) -> Nginx:
    """Render a recipe's files into ``prefix`` as an admin installs them (snippets under
    ``snippets/``, the server files included in ``http { }``) and start nginx on ``ports``."""
    rendered = render_recipe(
        {(f"snippets/{t.name}" if t.parent.name == "snippets" else t.name): t for t in templates},
        values)
    sites = {name: text for name, text in rendered.items() if not name.startswith("snippets/")}
    snippets = {name: text for name, text in rendered.items() if name.startswith("snippets/")}
    return Nginx(prefix, sites, ports, snippets).start()


def web_root(dist: Path, base_path: str, folder: Path) -> Path:
    """The folder an nginx ``root`` names so that ``base_path`` is ``dist``: the dist itself
    at ``/``, else ``folder`` holding it (a symlink) at ``base_path``."""
    if base_path == "/":
        return dist
    link = folder / base_path.strip("/")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(dist, target_is_directory=True)
    return folder


def with_config(dist: Path, config: dict[str, Any], folder: Path) -> Path:
    """``dist`` with its config/app-config.json replaced, as a deployer edits it in place
    (the other files linked, not copied)."""
    folder.mkdir(parents=True)
    for entry in dist.iterdir():
        if entry.name != "config":
            (folder / entry.name).symlink_to(entry)
    (folder / "config").mkdir()
    (folder / "config" / "app-config.json").write_text(json.dumps(config, indent=1))
    return folder


def dicomweb_urls(node: Any) -> list[str]:
    """Every BulkDataURI and RetrieveURL (0008,1190) in a DICOM JSON answer: the absolute
    URLs Orthanc writes from the proxy's headers, which must lead back through the proxy."""
    if isinstance(node, list):
        return [url for item in node for url in dicomweb_urls(item)]
    if not isinstance(node, dict):
        return []
    found = [node["BulkDataURI"]] if "BulkDataURI" in node else []
    found += [str(v) for v in node.get("00081190", {}).get("Value", [])]
    return found + [url for value in node.values() for url in dicomweb_urls(value)]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Nginx:
    """One nginx process serving ``sites`` (server-level files, written into ``prefix``).

    ``files`` are other files the sites include (snippets), by their path in ``prefix``.
    """

    def __init__(self, prefix: Path, sites: Mapping[str, str], ports: list[int],
                 files: Mapping[str, str] | None = None) -> None:
        self.prefix, self.ports = prefix, ports
        self.process: subprocess.Popen[bytes] | None = None
        prefix.mkdir(parents=True, exist_ok=True)
        for name, text in {**(files or {}), **sites}.items():
            (prefix / name).parent.mkdir(parents=True, exist_ok=True)
            (prefix / name).write_text(text, "utf-8")
        shutil.copyfile(MIME_TYPES, prefix / "mime.types")
        temp = "\n".join(f"    {kind}_temp_path {prefix / 'temp' / kind};"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        includes = "\n".join(f"    include {prefix / name};" for name in sites)
        self.conf = prefix / "nginx.conf"
        # As root, nginx would run its workers as nobody, who cannot read the tests' folders
        # (pytest makes them 0700): the workers stay this user, as they do for anyone else.
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
        self.conf.write_text(f"""\
{user}daemon off;
pid {prefix / 'nginx.pid'};
error_log {self.error_log} warn;
worker_processes 1;
events {{ worker_connections 512; }}
http {{
    default_type application/octet-stream;
    access_log {prefix / 'access.log'};
    sendfile on;
{temp}
{includes}
}}
""", "utf-8")

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    def log(self) -> str:
        return self.error_log.read_text("utf-8", "replace") if self.error_log.exists() else ""

    def start(self) -> Self:
        if not NGINX.is_file():
            raise NginxError(f"{NGINX} not found: apt-get install nginx (scripts/setup.sh does)")
        if self.process is not None:
            raise NginxError(f"nginx in {self.prefix} is already running")
        (self.prefix / "temp").mkdir(exist_ok=True)
        args = [str(NGINX), "-p", str(self.prefix), "-c", str(self.conf), "-e", str(self.error_log)]
        check = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise NginxError(f"nginx -t refused the config:\n{check.stderr}")
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while not all(_listening(port) for port in self.ports):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise NginxError(f"nginx did not start on {self.ports}:\n{self.log()[-3000:]}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGTERM) of the master, which takes its worker with it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def __enter__(self) -> Self:
        return self if self.process is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
