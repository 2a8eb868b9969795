"""The AiiDA engine: run rhocat's pw.x calculations through aiida-core on a cluster.

This module sets AiiDA up (profile, computer, code, pseudopotential family);
:mod:`rhocat.qe.aiida_run` builds and submits the work chains and collects the
results. Both import ``aiida`` lazily: rhocat works without the ``aiida`` extra
(``pip install 'rhocat[aiida]'``) until one of these functions is called.

Set-up, in order (each step reuses what already exists)::

    profile = ensure_profile()                  # the user's, or a new presto-style one
    computer = ensure_computer("localhost")     # or the label of a configured cluster
    code = ensure_code("pw.x", computer)        # label "pw@localhost"
    group = ensure_pseudo_family("debian-pbe")  # rhocat's family, installed via aiida-pseudo

On a cluster the computer and code are set up by the user (``verdi computer
setup`` with ``core.ssh`` + ``core.slurm``, ``verdi code create``); these helpers
then only look them up by label (see docs/aiida.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rhocat.errors import InputError, MissingToolError, PseudoError

if TYPE_CHECKING:  # pragma: no cover
    from aiida.manage.configuration.profile import Profile
    from aiida.orm import Computer, InstalledCode
    from aiida_pseudo.groups.family import CutoffsPseudoPotentialFamily

    from rhocat.qe.pseudo import PseudoFamily

#: Label of the profile :func:`ensure_profile` creates when the user has none.
DEFAULT_PROFILE = "rhocat"
#: Label of the code node :func:`ensure_code` creates for pw.x.
DEFAULT_CODE_LABEL = "pw"
#: Prefix of the aiida-pseudo family groups rhocat installs.
FAMILY_PREFIX = "rhocat"


def require_aiida() -> None:
    """Raise :class:`MissingToolError` unless the AiiDA packages (core, QE, pseudo) import."""
    try:
        import aiida  # noqa: F401
        import aiida_pseudo  # noqa: F401
        import aiida_quantumespresso  # noqa: F401
    except ImportError as exc:
        raise MissingToolError(
            f"the AiiDA engine needs the 'aiida' extra ({exc.name} is not installed): "
            "pip install 'rhocat[aiida]'"
        ) from exc


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# --------------------------------------------------------------------------- profile


def ensure_profile(name: str | None = None, *, create: bool = True) -> Profile:
    """Load an AiiDA profile and return it.

    Order: the profile already loaded in this process (if ``name`` is None or
    matches); else profile ``name`` or the configured default profile; else, when
    ``create`` is true and the configuration holds no profile at all, a new
    ``verdi presto``-style profile named :data:`DEFAULT_PROFILE` (SQLite storage,
    RabbitMQ if one answers on localhost, otherwise the ZeroMQ broker, which needs
    no service and runs inside the daemon). The configuration folder is AiiDA's
    own choice (``$AIIDA_PATH`` or ``~/.aiida``).

    Raises :class:`InputError` for a named profile that does not exist.
    """
    require_aiida()
    from aiida.common.exceptions import MissingConfigurationError, ProfileConfigurationError
    from aiida.manage import get_manager
    from aiida.manage.configuration import get_config

    manager = get_manager()
    loaded = manager.get_profile()
    if loaded is not None and (name is None or loaded.name == name):
        return loaded
    try:
        config = get_config(create=create)
    except MissingConfigurationError as exc:
        raise InputError(f"no AiiDA configuration found ({exc}); run `verdi presto`") from exc
    if name is not None and name not in config.profile_names:
        raise InputError(
            f"AiiDA profile {name!r} does not exist "
            f"(known: {', '.join(config.profile_names) or 'none'})"
        )
    if name is None and not config.profile_names:
        if not create:
            raise InputError("no AiiDA profile is configured; run `verdi presto`")
        return _create_profile(config, DEFAULT_PROFILE, set_default=True)
    try:
        return manager.load_profile(name, allow_switch=True)
    except ProfileConfigurationError as exc:
        raise InputError(f"cannot load AiiDA profile: {exc}") from exc


def _create_profile(config: Any, name: str, *, set_default: bool, test: bool = False) -> Profile:
    """Create and load a presto-style profile (SQLite, RabbitMQ or ZeroMQ broker) in ``config``."""
    from aiida.brokers.rabbitmq.defaults import detect_rabbitmq_config
    from aiida.manage import get_manager
    from aiida.manage.configuration import create_profile
    from aiida.plugins import BrokerFactory

    try:
        broker_config = detect_rabbitmq_config()
        broker_backend = "core.rabbitmq"
    except ConnectionError:
        broker_backend = "core.zeromq"
        broker_config = BrokerFactory(broker_backend).get_default_config()
    storage = {"filepath": str(pathlib.Path(config.dirpath) / "storage" / name)}
    profile = create_profile(
        config,
        name=name,
        email="rhocat@localhost",
        storage_backend="core.sqlite_dos",
        storage_config=storage,
        broker_backend=broker_backend,
        broker_config=broker_config,
        is_test_profile=test,
    )
    config.set_option("runner.poll.interval", 1, scope=profile.name)
    if set_default:
        config.set_default_profile(profile.name, overwrite=True)
    config.store()
    return get_manager().load_profile(profile.name, allow_switch=True)


@contextlib.contextmanager
def temporary_profile(directory: str | os.PathLike | None = None) -> Iterator[Profile]:
    """A throwaway presto-style AiiDA profile in its own configuration folder.

    Sets ``AIIDA_PATH`` to ``directory`` (a new temporary folder when None) for the
    duration, creates and loads a profile there, and on exit stops its daemon if
    one was started, unloads it, restores the previous configuration and
    ``AIIDA_PATH``, and deletes the folder if it created it. For tests and demos;
    the user's own configuration is never touched.
    """
    require_aiida()
    from aiida.common.exceptions import MissingConfigurationError
    from aiida.manage import get_manager
    from aiida.manage.configuration import get_config, reset_config, settings

    own_dir = directory is None
    root = pathlib.Path(tempfile.mkdtemp(prefix="rhocat-aiida-") if own_dir else directory)
    root.mkdir(parents=True, exist_ok=True)
    manager = get_manager()
    previous_profile = manager.get_profile()
    try:
        previous_config = get_config()
    except MissingConfigurationError:
        previous_config = None
    previous_env = os.environ.get(settings.DEFAULT_AIIDA_PATH_VARIABLE)

    config_dir = root / settings.DEFAULT_CONFIG_DIR_NAME
    if previous_profile is not None:
        manager.unload_profile()
    reset_config()
    os.environ[settings.DEFAULT_AIIDA_PATH_VARIABLE] = str(config_dir)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Creating AiiDA configuration folder"
            settings.AiiDAConfigDir.set(config_dir)
            config = get_config(create=True)
        profile = _create_profile(config, "rhocat-tmp", set_default=True, test=True)
        yield profile
    finally:
        with contextlib.suppress(Exception):
            stop_daemon()
        manager.unload_profile()
        reset_config()
        if previous_env is None:
            os.environ.pop(settings.DEFAULT_AIIDA_PATH_VARIABLE, None)
        else:
            os.environ[settings.DEFAULT_AIIDA_PATH_VARIABLE] = previous_env
        if previous_config is not None:
            settings.AiiDAConfigDir.set(pathlib.Path(previous_config.dirpath))
            get_config()
            if previous_profile is not None:
                manager.load_profile(previous_profile.name, allow_switch=True)
        else:
            settings.AiiDAConfigDir.set(None)
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)


def daemon_running() -> bool:
    """True when the daemon of the loaded profile runs (work is then submitted to it)."""
    from aiida.engine.daemon.client import get_daemon_client

    try:
        return bool(get_daemon_client().is_daemon_running)
    except Exception:  # no broker configured, no daemon folder: not running
        return False


def start_daemon(workers: int = 1, timeout_s: float = 60.0) -> None:
    """Start the loaded profile's daemon with ``workers`` worker processes (no-op if running)."""
    from aiida.engine.daemon import client as client_module
    from aiida.engine.daemon.client import get_daemon_client

    verdi = os.path.join(os.path.dirname(sys.executable), "verdi")  # this environment's verdi
    if client_module.VERDI_BIN is None and os.path.exists(verdi):
        client_module.VERDI_BIN = verdi
    client = get_daemon_client()
    if not client.is_daemon_running:
        client.start_daemon(number_workers=workers, timeout=int(timeout_s))


def stop_daemon(timeout_s: float = 60.0) -> None:
    """Stop the daemon of the loaded profile, if it runs.

    Asks circus to quit; if it does not answer within ``timeout_s`` (a loaded
    machine), terminates the daemon's own process (its pid file) instead.
    """
    import signal

    from aiida.engine.daemon.client import DaemonException, get_daemon_client

    client = get_daemon_client()
    if not client.is_daemon_running:
        return
    try:
        client.stop_daemon(wait=True, timeout=int(timeout_s))
        return
    except DaemonException:
        pid = client.get_daemon_pid()
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- computer, code


def default_mpirun_command() -> list[str]:
    """``mpirun -np {tot_num_mpiprocs}``, with ``--allow-run-as-root`` when running as root."""
    cmd = ["mpirun"]
    if _is_root():
        cmd.append("--allow-run-as-root")
    return [*cmd, "-np", "{tot_num_mpiprocs}"]


def ensure_computer(
    label: str = "localhost",
    *,
    hostname: str = "localhost",
    transport: str = "core.local",
    scheduler: str = "core.direct",
    workdir: str | os.PathLike | None = None,
    mpirun_command: list[str] | None = None,
    mpiprocs_per_machine: int | None = None,
) -> Computer:
    """Return the AiiDA computer ``label``, creating a local one if it does not exist.

    An existing computer (for instance a SLURM cluster the user set up with
    ``verdi computer setup``) is returned as it is; it must be configured for the
    current user. A new one uses ``transport``/``scheduler`` (default
    ``core.local``/``core.direct``), scratch ``workdir`` (default
    ``<AiiDA config folder>/scratch/<label>``), and :func:`default_mpirun_command`.
    Raises :class:`InputError` for an existing but unconfigured computer.
    """
    ensure_profile()
    from aiida.common.exceptions import NotExistent
    from aiida.manage.configuration.settings import AiiDAConfigDir
    from aiida.orm import Computer, load_computer

    try:
        computer = load_computer(label)
    except NotExistent:
        computer = None
    if computer is not None:
        if not computer.is_configured:
            raise InputError(
                f"AiiDA computer {label!r} exists but is not configured for this user: "
                f"run `verdi computer configure {computer.transport_type} {label}`"
            )
        return computer
    if transport != "core.local":
        raise InputError(
            f"AiiDA computer {label!r} does not exist; set up remote computers with "
            "`verdi computer setup` (see docs/aiida.md)"
        )
    scratch = pathlib.Path(workdir) if workdir else AiiDAConfigDir.get() / "scratch" / label
    computer = Computer(
        label=label,
        hostname=hostname,
        description="local computer created by rhocat",
        transport_type=transport,
        scheduler_type=scheduler,
        workdir=str(scratch),
    ).store()
    computer.set_mpirun_command(mpirun_command or default_mpirun_command())
    computer.set_default_mpiprocs_per_machine(mpiprocs_per_machine or os.cpu_count() or 1)
    computer.set_minimum_job_poll_interval(0.5)
    computer.store()
    computer.configure(safe_interval=0)
    return computer


def ensure_code(
    executable: str = "pw.x",
    computer: Computer | str = "localhost",
    *,
    label: str = DEFAULT_CODE_LABEL,
    prepend_text: str = "",
) -> InstalledCode:
    """Return the pw.x code ``label@computer``, creating it if it does not exist.

    ``executable`` is looked up on PATH for a local computer (an absolute path is
    required for a remote one). MPI is not part of the code: rhocat runs a
    calculation with ``withmpi`` only when it asks for more than one rank, and the
    computer's mpirun command (:func:`default_mpirun_command`) adds
    ``--allow-run-as-root`` when root. Raises :class:`MissingToolError` when pw.x
    cannot be found locally.
    """
    ensure_profile()
    from aiida.common.exceptions import MultipleObjectsError, NotExistent
    from aiida.orm import InstalledCode, load_code, load_computer

    if isinstance(computer, str):
        try:
            computer = load_computer(computer)
        except NotExistent as exc:
            raise InputError(f"AiiDA computer {computer!r} does not exist") from exc
    full = f"{label}@{computer.label}"
    try:
        return load_code(full)
    except NotExistent:
        pass
    except MultipleObjectsError as exc:
        raise InputError(f"several AiiDA codes are labelled {full!r}") from exc
    if computer.transport_type == "core.local":
        path = shutil.which(executable)
        if path is None:
            raise MissingToolError(f"{executable} not found on PATH (install Quantum ESPRESSO)")
    else:
        if not os.path.isabs(executable):
            raise InputError(
                f"give the absolute path of {executable} on {computer.label!r} "
                "(or create the code with `verdi code create core.code.installed`)"
            )
        path = executable
    code = InstalledCode(
        computer=computer,
        filepath_executable=path,
        label=label,
        description="pw.x of Quantum ESPRESSO (created by rhocat)",
        default_calc_job_plugin="quantumespresso.pw",
        prepend_text=prepend_text,
    )
    return code.store()


# --------------------------------------------------------------------------- pseudopotentials


def family_label(family: PseudoFamily) -> str:
    """The aiida-pseudo group label of a rhocat family: ``rhocat/<name>/<hash of its md5s>``.

    The hash makes two different folders that share a name two different groups.
    """
    elements = family.elements()
    digest = hashlib.sha1(
        "".join(f"{el}:{family[el].md5};" for el in sorted(elements)).encode()
    ).hexdigest()[:8]
    return f"{FAMILY_PREFIX}/{family.name}/{digest}"


def ensure_pseudo_family(family: PseudoFamily | str | os.PathLike) -> CutoffsPseudoPotentialFamily:
    """Install rhocat's pseudopotential family as an aiida-pseudo group (once) and return it.

    ``family`` is a :class:`rhocat.qe.pseudo.PseudoFamily` or anything
    :func:`rhocat.qe.pseudo.load_family` accepts (a name or a folder). The group
    (:func:`family_label`) holds exactly the family's UPF files (copied into a
    temporary folder, so a directory with several files per element works) and
    the family's recommended cutoffs (Ry) as the ``standard`` stringency, like
    ``aiida-pseudo install family DIR LABEL -F pseudo.family.cutoffs -P pseudo.upf``.
    An existing group is checked: its md5s must be the family's.
    """
    ensure_profile()
    from aiida.common.exceptions import NotExistent
    from aiida.orm import QueryBuilder
    from aiida_pseudo.data.pseudo import UpfData
    from aiida_pseudo.groups.family import CutoffsPseudoPotentialFamily

    from rhocat.qe.pseudo import load_family

    family = load_family(family)
    label = family_label(family)
    elements = family.elements()
    qb = QueryBuilder().append(CutoffsPseudoPotentialFamily, filters={"label": label})
    existing = qb.first(flat=True)
    if existing is not None:
        for el in elements:
            try:
                node = existing.get_pseudo(el)
            except (ValueError, NotExistent) as exc:
                raise PseudoError(f"AiiDA family {label!r} lacks {el}: delete the group") from exc
            if node.md5 != family[el].md5:
                raise PseudoError(
                    f"AiiDA family {label!r} holds another {el} file: delete the group"
                )
        return existing

    with tempfile.TemporaryDirectory(prefix="rhocat-family-") as tmp:
        for el in elements:
            pseudo = family[el]
            src = pathlib.Path(pseudo.path)
            if not src.is_file():
                raise PseudoError(f"pseudopotential file {src} of {el} does not exist")
            shutil.copyfile(src, pathlib.Path(tmp) / src.name)
        try:
            group = CutoffsPseudoPotentialFamily.create_from_folder(
                pathlib.Path(tmp),
                label,
                description=f"rhocat family {family.name}",
                pseudo_type=UpfData,
            )
        except ValueError as exc:
            raise PseudoError(f"aiida-pseudo cannot install family {family.name!r}: {exc}") from exc
    cutoffs = {}
    for el in elements:
        pseudo = family[el]
        wfc = float(getattr(pseudo, "ecutwfc", None) or 0.0)
        rho = float(getattr(pseudo, "ecutrho", None) or 0.0)
        if wfc > 0 and rho > 0:
            cutoffs[el] = {"cutoff_wfc": wfc, "cutoff_rho": rho}
    if len(cutoffs) == len(elements):
        group.set_cutoffs(cutoffs, "standard", unit="Ry")
    return group
