from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import ConfigError, known_variables, load_settings, unknown_variables
from rules.loader import BUNDLED_RULES_DIR


def test_defaults_come_from_the_bundled_file() -> None:
    settings = load_settings(environ={})
    assert settings.call_center.repeat_threshold == 3
    assert settings.call_center.timezone == "America/New_York"
    assert settings.database_url == "sqlite://continuity.sqlite3"
    assert settings.rules_dir == BUNDLED_RULES_DIR
    assert settings.service.scheduler_enabled is True


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "CONTINUITY_DATABASE_URL": "postgres://u@h/db",
            "CONTINUITY_RULES_DIR": str(tmp_path),
            "CONTINUITY_TIMEZONE": "Europe/Paris",
            "CONTINUITY_SCHEDULER_ENABLED": "false",
            "CONTINUITY_REPEAT_THRESHOLD": "6",
        }
    )
    assert settings.database_url == "postgres://u@h/db"
    assert settings.rules_dir == tmp_path
    assert settings.call_center.timezone == "Europe/Paris"
    assert settings.service.scheduler_enabled is False
    assert settings.call_center.repeat_threshold == 6


def test_a_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"CONTINUITY_TIMEZONE": "Mars/Olympus", "CONTINUITY_RETRY_DAYS": "0"})
    message = str(raised.value)
    assert "environment variable CONTINUITY_TIMEZONE: call_center.timezone" in message
    assert "unknown time zone 'Mars/Olympus'" in message
    assert "environment variable CONTINUITY_RETRY_DAYS: call_center.retry_days" in message


def test_a_bad_file_value_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("call_center:\n  repeat_treshold: 4\nservice:\n  daily_run_at: '25:00'\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={}, config_file=path)
    message = str(raised.value)
    assert f"{path}: call_center.repeat_treshold: Extra inputs are not permitted" in message
    assert f"{path}: service.daily_run_at" in message


def test_config_file_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("call_center:\n  days_before_delivery: 9\n")
    settings = load_settings(environ={"CONTINUITY_CONFIG": str(path)})
    assert settings.call_center.days_before_delivery == 9
    assert settings.call_center.repeat_threshold == 3  # defaults fill the rest


def test_webhooks_and_smtp_from_the_environment_keep_their_secrets() -> None:
    settings = load_settings(
        environ={
            "CONTINUITY_WEBHOOKS": '[{"name": "erp", "url": "https://erp.example/hooks",'
            ' "secret": "whsec-0123456789abcdef", "events": ["order_placed"]}]',
            "CONTINUITY_SMTP_HOST": "mail.example",
            "CONTINUITY_SMTP_PASSWORD": "smtp-password-here",
            "CONTINUITY_UPCOMING_SHIPMENT_DAYS": "5",
            "CONTINUITY_DEFAULT_LOCALE": "fr",
        }
    )
    notifications = settings.notifications
    assert notifications.smtp_host == "mail.example"
    policy = notifications.policy()
    assert policy.email_enabled is True
    assert policy.upcoming_shipment_days == 5
    [erp] = policy.subscribers
    assert (erp.name, erp.url, erp.secret) == (
        "erp",
        "https://erp.example/hooks",
        "whsec-0123456789abcdef",
    )
    assert sorted(notifications.channels()) == ["email", "webhook"]
    shown = f"{settings!r} {policy!r} {notifications.channels()!r}"
    assert "whsec-0123456789abcdef" not in shown
    assert "smtp-password-here" not in shown


def test_without_an_smtp_host_no_email_is_written() -> None:
    notifications = load_settings(environ={}).notifications
    assert notifications.policy().email_enabled is False
    assert sorted(notifications.channels()) == ["webhook"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('[{"name": "x", "url": "ftp://x", "secret": "0123456789abcdef"}]', "http:// or https://"),
        ('[{"name": "x", "url": "http://x", "secret": "short"}]', "at least 16 characters"),
        (
            '[{"name": "x", "url": "http://x", "secret": "0123456789abcdef", "events": ["nope"]}]',
            "unknown event(s) nope",
        ),
    ],
)
def test_bad_webhooks_are_refused_without_showing_the_secret(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={"CONTINUITY_WEBHOOKS": value})
    assert "environment variable CONTINUITY_WEBHOOKS: notifications.webhooks" in str(raised.value)
    assert message in str(raised.value)
    assert "0123456789abcdef" not in str(raised.value)


def test_misspelled_variables_are_named_with_the_closest_known_one() -> None:
    assert unknown_variables(
        {
            "CONTINUITY_DATABSE_URL": "sqlite://x.sqlite3",
            "CONTINUITY_SHEDULER_ENABLED": "false",
            "CONTINUITY_LOG_LEVLE": "debug",
            "CONTINUITY_BANANA": "1",
            "CONTINUITY_TIMEZONE": "UTC",  # known: not reported
            "CONTINUITY_CONFIG": "c.yaml",  # known: the file's path
            "CONTINUITY_FAULTS": "",  # known: the crash tests' fault injection
            "PATH": "/bin",
        }
    ) == [
        "unknown environment variable CONTINUITY_BANANA ignored: no setting has this name",
        "unknown environment variable CONTINUITY_DATABSE_URL ignored: "
        "did you mean CONTINUITY_DATABASE_URL?",
        "unknown environment variable CONTINUITY_LOG_LEVLE ignored: "
        "did you mean CONTINUITY_LOG_LEVEL?",
        "unknown environment variable CONTINUITY_SHEDULER_ENABLED ignored: "
        "did you mean CONTINUITY_SCHEDULER_ENABLED?",
    ]


def test_every_setting_is_a_known_variable() -> None:
    known = known_variables()
    for name in (
        "CONTINUITY_LOG_FORMAT",
        "CONTINUITY_SHUTDOWN_GRACE_SECONDS",
        "CONTINUITY_LEADER_CHECK_SECONDS",
        "CONTINUITY_DELIVERY_ENABLED",
        "CONTINUITY_CATCH_UP_AT_START",
        "CONTINUITY_SMTP_HOST",
    ):
        assert name in known


def test_log_settings() -> None:
    settings = load_settings(
        environ={"CONTINUITY_LOG_LEVEL": "debug", "CONTINUITY_LOG_FORMAT": "json"}
    )
    assert (settings.service.log_level, settings.service.log_format) == ("DEBUG", "json")
    assert load_settings(environ={}).service.log_level is None  # INFO to serve, WARNING else
    with pytest.raises(ConfigError, match=r"CONTINUITY_LOG_FORMAT: service\.log_format"):
        load_settings(environ={"CONTINUITY_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="must be one of DEBUG, INFO, WARNING"):
        load_settings(environ={"CONTINUITY_LOG_LEVEL": "loud"})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/db", "unsupported database URL scheme 'mysql'"),
        ("sqlite://", "must be sqlite://PATH or postgres://USER@HOST:5432/DATABASE"),
        ("continuity.sqlite3", "unsupported database URL scheme"),
        ("sqlite:///no/such/dir/c.sqlite3", "/no/such/dir, does not exist"),
    ],
)
def test_a_database_url_that_cannot_work_is_refused_at_start(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={"CONTINUITY_DATABASE_URL": url})
    assert load_settings(environ={"CONTINUITY_DATABASE_URL": "sqlite://:memory:"})
