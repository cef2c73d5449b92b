"""A private MariaDB server for the tests: its own data directory, UNIX socket and port,
started with Debian's mariadb-server binaries (no system service), stopped by PID.

    db = MariaDB(tmpdir); db.start(); db.create_database("t1"); ...; db.stop()

The tests connect parleyd to it through the socket as user 'parley' (password
'parleypw'), which has all rights on databases named parley_*.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

USER = "parley"
PASSWORD = "parleypw"


def available():
    return shutil.which("mariadbd") or os.path.exists("/usr/sbin/mariadbd")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MariaDB:
    def __init__(self, base, extra_args=()):
        self.base = str(base)
        self.extra_args = list(extra_args)  # more mariadbd options (a test's own server)
        self.datadir = os.path.join(self.base, "data")
        self.socket = os.path.join(self.base, "mysqld.sock")
        self.port = _free_port()
        self.proc = None
        self.log = os.path.join(self.base, "mariadbd.log")

    def _root_sql(self, sql):
        subprocess.run(
            ["mariadb", "--no-defaults", "-uroot", "--socket=" + self.socket, "-e", sql],
            check=True, capture_output=True, timeout=30,
        )

    def start(self):
        os.makedirs(self.base, exist_ok=True)
        if not os.path.isdir(os.path.join(self.datadir, "mysql")):
            subprocess.run(
                ["mariadb-install-db", "--no-defaults", "--datadir=" + self.datadir,
                 "--user=" + ("root" if os.geteuid() == 0 else os.environ.get("USER", "root")),
                 "--auth-root-authentication-method=socket", "--skip-test-db"],
                check=True, capture_output=True, timeout=120,
            )
        self.spawn()
        self._root_sql(
            f"CREATE USER IF NOT EXISTS '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}';"
            f"CREATE USER IF NOT EXISTS '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';"
            f"GRANT ALL ON `parley\\_%`.* TO '{USER}'@'localhost';"
            f"GRANT ALL ON `parley\\_%`.* TO '{USER}'@'127.0.0.1';"
        )

    def spawn(self):
        """Starts mariadbd on the existing data directory and waits until it answers."""
        cmd = ["mariadbd", "--no-defaults", "--datadir=" + self.datadir,
               "--socket=" + self.socket, "--port=%d" % self.port,
               "--bind-address=127.0.0.1", "--pid-file=" + os.path.join(self.base, "pid"),
               "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M",
               "--skip-name-resolve", "--log-error=" + self.log] + self.extra_args
        if os.geteuid() == 0:
            cmd.append("--user=root")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited: " + open(self.log).read()[-2000:])
            try:
                self._root_sql("SELECT 1")
                return
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        raise RuntimeError("mariadbd did not start in time")

    def kill(self):
        """Stops the server abruptly (to test a database lost at run time)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def create_database(self, name):
        self._root_sql(f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}` CHARACTER SET utf8mb4;")
        return name

    def conf_section(self, database):
        """The storage section of a parleyd config using this server."""
        return (
            'storage = { backend = "mariadb"; schema_dir = "%s"; mariadb = { socket = "%s"; user = "%s"; '
            'password = "%s"; database = "%s"; }; };\n'
            % ("{schema_dir}", self.socket, USER, PASSWORD, database)
        )
