"""Sign-in and roles: the pure role mapping, the page matrix, and the app gated behind sign-in (AppTest)."""

from __future__ import annotations

import doctest
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

import settings as accord_settings
from pages.components import auth, navigation
from pages.components.auth import AuthConfigError, resolve_role, role_rules
from tests.conftest import plain

APP = str(accord_settings.ROOT / "app.py")
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret-not-real",
    "client_id": "accord",
    "client_secret": "test-client-secret-not-real",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}
ROLE_CONFIG = {
    "role_claim": "groups",
    "default_role": "viewer",
    "roles": {
        "admin": ["ops@example.com"],
        "executive": ["ceo@example.com"],
        "marketing": ["@mkt.example.com"],
    },
    "groups": {"sales": ["Sales EMEA", "Sales US"]},
}

# Who may open which page (README, "Running Accord for a team"). A new page must be added here on purpose.
ACCESS = {
    "overview": {"viewer", "marketing", "sales", "executive", "admin"},
    "marketing": {"marketing", "executive", "admin"},
    "sales": {"sales", "executive", "admin"},
    "funnel": {"marketing", "sales", "executive", "admin"},
    "agreement": {"marketing", "sales", "executive", "admin"},
    "data": {"admin"},
}


# ----------------------------------------------------------------------------- the pure role mapping


def test_the_module_examples_hold():
    result = doctest.testmod(auth, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0


@pytest.mark.parametrize(
    ("claims", "role"),
    [
        ({"email": "ops@example.com"}, "admin"),
        ({"email": "  OPS@Example.COM "}, "admin"),  # addresses compare case-insensitively
        ({"email": "ceo@example.com", "groups": ["Sales EMEA"]}, "executive"),  # the e-mail list wins
        ({"email": "lee@mkt.example.com"}, "marketing"),  # an @domain entry
        ({"email": "lee@sub.mkt.example.com"}, "viewer"),  # ... matches that domain only
        ({"email": "sam@example.com", "groups": ["Sales US"]}, "sales"),  # a configured claim value
        ({"email": "sam@example.com", "groups": "sales emea"}, "sales"),  # a claim as one string
        ({"email": "x@example.com", "groups": ["sales"]}, "viewer"),  # aliases replace the role's own name
        ({"email": "x@example.com", "groups": ["marketing", "executive"]}, "executive"),  # most privileged
        ({"email": "x@example.com", "groups": ["Admin"]}, "admin"),  # the role's name, any case
        (
            {"email": "ops@example.com", "email_verified": False},
            "viewer",
        ),  # an unverified address is not trusted
        ({"email": "ops@example.com", "email_verified": True}, "admin"),
        ({"sub": "ops@example.com"}, "viewer"),  # the subject is an opaque id, not an e-mail
        ({}, "viewer"),
        (
            {"email": "x@example.com", "groups": {"admin": True}},
            "viewer",
        ),  # a claim of an odd shape grants nothing
    ],
)
def test_resolve_role(claims, role):
    claims = {"email_verified": True, **claims}  # these cases are about the rules; verification below
    assert resolve_role(claims, role_rules(ROLE_CONFIG)) == role


@pytest.mark.parametrize(
    "verified",
    [False, "false", "False", "0", 0, 1, None, "", "yes", "true ish", ["true"], {"v": True}, "missing"],
)
def test_an_email_not_marked_verified_grants_no_role(verified):
    # Cognito sends "false" as text, Entra ID sends nothing: neither may turn a listed address into admin.
    claims = {"email": "ops@example.com", "groups": ["Sales US"]}
    if verified != "missing":
        claims["email_verified"] = verified
    assert resolve_role(claims, role_rules(ROLE_CONFIG)) == "sales"  # the groups claim still counts


@pytest.mark.parametrize("verified", [True, "true", "TRUE", " True "])
def test_an_email_marked_verified_is_trusted(verified):
    assert (
        resolve_role({"email": "ops@example.com", "email_verified": verified}, role_rules(ROLE_CONFIG))
        == "admin"
    )


def test_a_provider_without_the_claim_can_be_trusted_by_setting():
    rules = role_rules(ROLE_CONFIG, trust_unverified_email=True)
    assert resolve_role({"email": "ops@example.com"}, rules) == "admin"
    assert resolve_role({"email": "ops@example.com"}, role_rules(ROLE_CONFIG)) == "viewer"


def test_claims_are_ignored_unless_a_role_claim_is_named():
    rules = role_rules({"default_role": "viewer"})
    assert resolve_role({"email": "a@x.com", "groups": ["admin"], "roles": ["admin"]}, rules) == "viewer"


def test_without_configuration_nobody_gets_in():
    assert role_rules(None).default_role == "none"
    assert resolve_role({"email": "anyone@example.com", "groups": ["admin"]}, role_rules({})) == "none"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"roles": {"admins": ["a@x.com"]}}, "[accord.roles]: unknown role 'admins'"),
        (
            {"roles": {"admin": "not-an-address"}},
            "'not-an-address' is neither an e-mail address nor an @domain",
        ),
        ({"roles": {"admin": [1, 2]}}, "[accord.roles] admin: expected a list of text values"),
        ({"roles": ["a@x.com"]}, "[accord.roles]: expected a table"),
        ({"default_role": "boss"}, "default_role: 'boss' is not a role"),
        ({"default_role": 3}, "default_role: expected a text value"),
        ({"groups": {"sales": ["Sales"]}}, "role_claim is not"),
        ({"role_claim": "groups", "groups": {"chief": ["x"]}}, "[accord.groups]: unknown role 'chief'"),
        ({"rolez": {}}, "unknown key 'rolez'"),
    ],
)
def test_configuration_mistakes_name_the_key(section, message):
    with pytest.raises(AuthConfigError) as error:
        role_rules(section)
    assert message in str(error.value) and "secrets.toml" in str(error.value)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
CLAIMS = st.dictionaries(
    st.sampled_from(["email", "email_verified", "groups", "roles", "sub", "name"]) | st.text(max_size=8),
    JSON | st.sampled_from(["ops@example.com", "admin", ["Sales US"], "@mkt.example.com"]),
    max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(CLAIMS)
def test_any_claims_give_a_known_role_or_none(claims):
    # Claims come from the identity provider: their shapes are not ours to trust.
    assert resolve_role(claims, role_rules(ROLE_CONFIG)) in (*navigation.ROLES, "none")
    assert resolve_role(claims, role_rules({})) == "none"


@settings(max_examples=100, deadline=None)
@given(CLAIMS)
def test_a_listed_verified_address_always_decides(claims):
    claims = {**claims, "email": "ops@example.com", "email_verified": True}
    assert resolve_role(claims, role_rules(ROLE_CONFIG)) == "admin"


# ----------------------------------------------------------------------------- pages per role


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (
            "admin",
            {"edit_agreement", "run_sync", "run_import", "see_rejected_rows", "freeze_week", "remove_demo"},
        ),
        ("executive", {"freeze_week"}),
        ("marketing", set()),
        ("sales", set()),
        ("viewer", set()),
        ("none", set()),
    ],
)
def test_what_each_role_may_do(monkeypatch, role, allowed):
    monkeypatch.setattr(auth, "current_user", lambda: auth.User("x@example.com", "x", role, True))
    assert {action for action in auth.ACTIONS if auth.can(action)} == allowed
    with pytest.raises(ValueError, match="unknown action 'drop_tables'"):
        auth.can("drop_tables")


def test_every_page_declares_who_may_open_it():
    for spec in navigation.PAGES:
        assert spec.url_path in ACCESS, f"{spec.path}: add its roles to ACCESS (and the README's roles table)"
        assert set(spec.roles) == ACCESS[spec.url_path], spec.path


@pytest.mark.parametrize("role", navigation.ROLES)
def test_each_role_gets_its_pages_and_only_admins_get_setup(role):
    shown = {spec.url_path for spec in navigation.specs_for(role)}
    assert shown == {page for page, roles in ACCESS.items() if role in roles} & {
        spec.url_path for spec in navigation.PAGES
    }
    assert ("data" in shown) == (role == "admin")


def test_no_role_opens_nothing():
    assert navigation.specs_for("none") == [] and navigation.specs_for("") == []


# ----------------------------------------------------------------------------- the app behind sign-in


@pytest.fixture
def app(monkeypatch, demo_db_url):
    """An AppTest of app.py on the demo database; call it with a user and the secrets' [accord] section."""
    monkeypatch.setenv("ACCORD_DATABASE_URL", demo_db_url)

    def run(user=None, accord=ROLE_CONFIG, auth_section=AUTH, page=None, query=None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        if page is not None:
            at.switch_page(page)
        for name, value in (query or {}).items():
            at.query_params[name] = value
        if auth_section is not None:
            at.secrets["auth"] = auth_section
        if accord is not None:
            at.secrets["accord"] = accord
        at.user = user if user is not None else {"is_logged_in": False}
        at.run()
        assert not at.exception, at.exception
        return at

    return run


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "header", "markdown", "caption", "warning", "error", "info") for e in
             getattr(at, kind)]  # fmt: skip
    parts += [e.value for kind in ("markdown", "caption", "header") for e in getattr(at.sidebar, kind)]
    return "\n".join(str(p) for p in parts)


def signed_in(email: str, **claims) -> dict:
    return {
        "is_logged_in": True,
        "email": email,
        "email_verified": True,
        "name": email.split("@")[0],
        **claims,
    }


def test_open_mode_has_no_sign_in(app):
    at = app(user={}, auth_section=None, accord=None)
    assert not any(b.key and b.key.startswith("sign_") for b in at.button)
    assert "Signed in as" not in texts(at)
    assert at.sidebar.header[0].value == "Filters"


def test_signed_out_sees_only_the_sign_in_page(app):
    at = app()
    assert at.button(key="sign_in_default").label == "Sign in"
    assert [t.value for t in at.title] == ["Accord"]
    assert len(at.sidebar.header) == 0 and len(at.metric) == 0 and len(at.selectbox) == 0
    assert "demo data" not in texts(at)  # not even the freshness banner: nothing about the data leaks


def test_named_providers_get_one_button_each(app):
    providers = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": AUTH["cookie_secret"],
                 "google": {"client_id": "g", "client_secret": "s", "server_metadata_url": "https://x/.well-known"},
                 "okta": {"client_id": "o", "client_secret": "s", "server_metadata_url": "https://y/.well-known"}}  # fmt: skip
    at = app(auth_section=providers)
    assert {b.label for b in at.button} == {"Sign in with Google", "Sign in with Okta"}


def test_signed_in_admin_sees_who_and_can_sign_out(app):
    at = app(user=signed_in("ops@example.com", name="Olivia Ops"))
    caption = texts(at)
    assert f"Signed in as **{auth.plain('Olivia Ops (ops@example.com)')}** · role: admin" in caption
    assert at.sidebar.header[0].value == "Filters"
    at.button(key="sign_out").click().run()
    assert not at.exception
    assert at.user == {"is_logged_in": False}
    # The run ends at the button (a real browser is now on its way to the logout route): no page is drawn.
    assert len(at.metric) == 0 and len(at.title) == 0
    at.run()  # the session after sign-out
    assert at.button(key="sign_in_default").label == "Sign in"
    assert "Signed in as" not in texts(at)


@pytest.mark.parametrize("verified", ["false", None, 0])
def test_an_unverified_listed_address_does_not_become_admin_in_the_app(app, verified):
    user = signed_in("ops@example.com", email_verified=verified)
    if verified is None:
        del user["email_verified"]  # Entra ID: no claim at all
    assert "role: viewer" in texts(app(user=user))


def test_the_setting_trusts_a_provider_that_never_sends_the_claim(app, monkeypatch):
    user = signed_in("ops@example.com")
    del user["email_verified"]
    monkeypatch.setenv("ACCORD_AUTH_TRUST_UNVERIFIED_EMAIL", "true")
    assert "role: admin" in texts(app(user=user))


def test_the_readme_role_table_says_what_each_role_may_change():
    readme = (accord_settings.ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| (\w+) \| [^|]+ \| ([^|]+) \|$", readme, flags=re.M))
    for role in navigation.ROLES:
        may = {action for action, roles in auth.ACTIONS.items() if role in roles}
        assert (rows[role].strip() == "no") == (not may), f"README role table, {role}: ACTIONS allow {may}"


def test_sales_role_from_a_group_claim(app):
    at = app(user=signed_in("sam@example.com", groups=["Sales EMEA"]))
    assert "role: sales" in texts(at)
    assert "Data" not in [t.value for t in at.title]


def test_a_person_without_a_role_is_told_so_and_can_sign_out(app):
    at = app(user=signed_in("stranger@example.org"), accord={"roles": {"admin": ["ops@example.com"]}})
    assert (
        "has no role in Accord" in at.warning[0].value
        and auth.plain("stranger@example.org") in at.warning[0].value
    )
    assert len(at.sidebar.header) == 0 and len(at.metric) == 0
    at.button(key="sign_out_no_role").click().run()
    assert at.user == {"is_logged_in": False}
    at.run()
    assert at.button(key="sign_in_default").label == "Sign in"


def test_a_broken_role_configuration_stops_the_app_with_the_key_named(app):
    at = app(user=signed_in("ops@example.com"), accord={"roles": {"admins": ["ops@example.com"]}})
    assert len(at.error) == 1 and "[accord.roles]: unknown role 'admins'" in plain(at.error[0].value)
    assert len(at.sidebar.header) == 0 and len(at.metric) == 0 and len(at.button) == 0


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


@pytest.mark.parametrize(
    ("email", "groups", "page", "opens"),
    [
        ("sam@example.com", ["Sales US"], "pages/data.py", False),
        ("sam@example.com", ["Sales US"], "pages/marketing.py", False),
        ("sam@example.com", ["Sales US"], "pages/sales.py", True),
        ("lee@mkt.example.com", [], "pages/sales.py", False),
        ("lee@mkt.example.com", [], "pages/funnel.py", True),
        ("viewer@example.com", [], "pages/agreement.py", False),
        ("ceo@example.com", [], "pages/data.py", False),
        ("ceo@example.com", [], "pages/marketing.py", True),
        ("ops@example.com", [], "pages/data.py", True),
    ],
)
def test_a_page_the_role_may_not_open_is_not_there_even_by_url(app, email, groups, page, opens):
    spec = next(s for s in navigation.PAGES if s.path == page)
    at = app(user=signed_in(email, groups=groups), page=page)
    assert (spec.title in titles(at)) == opens, titles(at)


def test_sales_reads_the_agreement_but_gets_no_editor(app):
    at = app(user=signed_in("sam@example.com", groups=["Sales US"]), page="pages/agreement.py",
             query={"section": "Edit"})  # fmt: skip
    assert titles(at) == ["Agreement"]
    assert any("Only an admin can change the agreement" in i.value for i in at.info)
    assert len(at.number_input) == 0 and not any("Save" in b.label for b in at.button)


def test_an_admin_gets_the_editor(app):
    at = app(user=signed_in("ops@example.com"), page="pages/agreement.py", query={"section": "Edit"})
    assert titles(at) == ["Agreement"]
    assert not any("Only an admin can change the agreement" in i.value for i in at.info)
    assert len(at.number_input) > 0
