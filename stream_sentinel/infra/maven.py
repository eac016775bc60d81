"""The Kafka broker's jars, resolved from Maven Central into a cache outside the work tree.

The package ships a Maven manifest (``pom.xml``) naming ``org.apache.kafka:kafka_2.13`` and a
log4j2 backend; ``mvn dependency:copy-dependencies`` puts the whole runtime classpath into
``<cache_dir>/kafka-<version>/libs``. Maven resolves and verifies the transitive jars, so the
project never hand-maintains a list of them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from stream_sentinel.errors import InfraError
from stream_sentinel.infra.process import tail
from stream_sentinel.infra.service import find_program

INSTALL_MAVEN = (
    "Maven fetches the Kafka jars; install it with `apt-get install -y maven` (as root or with"
    " sudo; `make setup-java` does it), or set SENTINEL_INFRA_MAVEN to the mvn binary"
)


@dataclass(frozen=True, slots=True)
class KafkaJars:
    """Where one Kafka version's jars live in the cache."""

    cache_dir: Path
    version: str

    @property
    def root(self) -> Path:
        return self.cache_dir / f"kafka-{self.version}"

    @property
    def libs(self) -> Path:
        return self.root / "libs"

    @property
    def classpath(self) -> str:
        """The JVM expands ``dir/*`` to every jar in it."""
        return str(self.libs / "*")

    @property
    def complete_marker(self) -> Path:
        """Written last, so an interrupted install never looks finished."""
        return self.root / "installed"

    def installed(self) -> bool:
        """True when the jars resolved from the current manifest are all in place."""
        try:
            first_line = self.complete_marker.read_text().partition("\n")[0]
        except OSError:
            return False
        return first_line == f"manifest {manifest_digest()}"

    def require_installed(self) -> None:
        if not self.installed():
            raise InfraError(
                f"the Kafka {self.version} jars are not installed in {self.libs}: run"
                " `stream-sentinel infra install` (or `make setup-kafka`); it needs Maven and"
                " network access to Maven Central"
            )


def install_jars(jars: KafkaJars, maven: str) -> bool:
    """Resolve the jars once; True when this call installed them, False when already there."""
    if jars.installed():
        return False
    mvn = find_program(maven, INSTALL_MAVEN)
    jars.root.mkdir(parents=True, exist_ok=True)
    staging = jars.root / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    _copy_dependencies(mvn, jars, staging)
    shutil.rmtree(jars.libs, ignore_errors=True)
    staging.replace(jars.libs)
    names = sorted(path.name for path in jars.libs.glob("*.jar"))
    jars.complete_marker.write_text("\n".join([f"manifest {manifest_digest()}", *names]) + "\n")
    return True


def manifest() -> bytes:
    """The Maven manifest shipped in the package."""
    return resources.files("stream_sentinel.infra").joinpath("pom.xml").read_bytes()


def manifest_digest() -> str:
    """Identifies the manifest, so editing it (a new log4j, say) triggers a fresh install."""
    return hashlib.sha256(manifest()).hexdigest()[:16]


def _copy_dependencies(mvn: str, jars: KafkaJars, target: Path) -> None:
    pom = jars.root / "pom.xml"
    pom.write_bytes(manifest())
    output = jars.root / "maven.log"
    command = [
        mvn,
        "-B",
        "-q",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={target}",
        f"-Dkafka.version={jars.version}",
    ]
    # Maven keeps the caller's environment: JAVA_HOME, MAVEN_OPTS and proxies are the user's.
    with output.open("wb") as log:
        result = subprocess.run(
            command, cwd=jars.root, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        raise InfraError(
            f"Maven could not resolve org.apache.kafka:kafka_2.13:{jars.version} (exit"
            f" {result.returncode}). Check network access to https://repo.maven.apache.org (or"
            f" the proxy in ~/.m2/settings.xml) and that SENTINEL_INFRA_KAFKA_VERSION names a"
            f" released version.\n--- last lines of {output} ---\n{tail(output)}"
        )
