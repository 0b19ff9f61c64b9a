import pytest

from settings import get_settings, load_settings


def write(tmp_path, text):
    path = tmp_path / "settings.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_project_settings_load_and_list_official_domains():
    settings = get_settings()
    assert "tokenpocket.pro" in settings.official_domains
    assert settings.default_language == "zh"


def test_environment_overrides_the_file(tmp_path):
    path = write(tmp_path, "links: {official_domains: [example.org]}\n")
    settings = load_settings(path, env={"WALLET_SUPPORT_DEFAULT_LANGUAGE": "en"})
    assert settings.default_language == "en"


def test_settings_file_can_be_chosen_by_environment(tmp_path):
    path = write(tmp_path, "links: {official_domains: [example.org]}\n")
    assert load_settings(env={"WALLET_SUPPORT_SETTINGS": str(path)}).official_domains == ("example.org",)


def test_invalid_language_is_refused_at_start(tmp_path):
    path = write(tmp_path, "default_language: fr\nlinks: {official_domains: [example.org]}\n")
    with pytest.raises(ValueError, match="default_language"):
        load_settings(path, env={})


def test_an_empty_allowlist_is_refused(tmp_path):
    with pytest.raises(ValueError, match="official_domains"):
        load_settings(write(tmp_path, "default_language: zh\n"), env={})


@pytest.mark.parametrize(
    "host, allowed",
    [
        ("tokenpocket.pro", True),
        ("help.tokenpocket.pro", True),
        ("TRONSCAN.ORG", True),
        ("tokenpocket.pro.evil.io", False),
        ("faketokenpocket.pro", False),
    ],
)
def test_domain_allowlist_includes_subdomains_only(host, allowed):
    assert get_settings().is_allowed_domain(host) is allowed
