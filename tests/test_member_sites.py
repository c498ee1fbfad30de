"""Member news without typing: a `member-sites` source reads the members' own sites (local servers shaped like
SPIP, WordPress, Drupal, Joomla and TYPO3 sites, some without a feed, failing or slow), proposes what concerns
international action, and the team accepts (« Ville de Nancy — … ») or dismisses, from the command line or the desk.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest import config, pipeline, proposals
from digest.cli import main as cli
from digest.collectors import discovery, sitemap, sites, topics
from digest.collectors.base import Fetched
from digest.errors import ConfigError
from tests import installed
from tests.cms_sites import Article, Site, Sites, serving
from tests.feedserver import loopback_only  # noqa: F401  (autouse: nothing leaves the machine)

DAY = date(2026, 12, 1)
WHEN = datetime(2026, 11, 20, 10, tzinfo=UTC)
TWINNING = Article("Jumelage : une délégation de Kanazawa reçue en mairie",
                   "Trois jours d'échanges avec notre ville jumelle japonaise.", WHEN, "jumelage-kanazawa")
SENEGAL = Article("Coopération décentralisée avec Kaolack : bilan de la mission",
                  "Les projets d'assainissement menés avec la commune sénégalaise.", WHEN, "kaolack")
ROADWORKS = Article("Travaux rue Victor-Hugo : circulation alternée", "Du 3 au 21 mars.", WHEN, "travaux")
PUBLIC_SERVICE = Article("Délégation de service public de l'eau : le nouveau contrat",
                         "Le délégataire s'engage sur le prix de l'eau.", WHEN, "dsp-eau")
KINDS = ("wordpress", "spip", "drupal", "joomla", "typo3", "sitemap", "nofeed", "failing", "slow")
SAMPLE = Path(__file__).parent / "data" / "member-sites" / "labelled.tsv"


def member(kind: str) -> str:
    """The member authority whose site is of this kind."""
    return f"Ville de {kind.capitalize()}"


def project(folder: Path, server: Sites, *, extra: str = "", kinds: tuple[str, ...] = KINDS) -> Path:
    """A letter whose member news come from the members' sites on `server`; its sources.toml."""
    rows = "".join(f"{member(k)};{k}.fr;{server.address(f'/{k}/')}\n" for k in kinds)
    rows = rows.replace(server.address("/spip/"), server.address("/spip"))  # an address without its slash
    (folder / "adherents.csv").write_text("collectivite;domaines;site\n" + rows, encoding="utf-8")
    (folder / "breves.csv").write_text("title;url;date\nUne brève;https://example.org/b;25/11/2026\n",
                                       encoding="utf-8")
    path = folder / "sources.toml"
    path.write_text(f'''
[letter]
title = "La Lettre de CUF"
date = "{DAY.isoformat()}"
base_url = "https://example.org/lettre/"
unsubscribe_url = "https://example.org/lettre/desinscription"
from = "Cités Unies France <lettre@example.org>"

[fetch]
deadline = 4

[[section]]
id = "collectivites"
title = "Actualités des collectivités"
kind = "news"
window_days = 31

[[section]]
id = "breves"
title = "En bref"
kind = "news"

[[source]]
name = "sites-adherents"
section = "collectivites"
url = "adherents.csv"
format = "member-sites"

[[source]]
name = "breves"
section = "breves"
url = "breves.csv"

[members]
file = "adherents.csv"
{extra}''', encoding="utf-8")
    return path


@pytest.fixture
def cms() -> Iterator[Sites]:
    """Every kind of member site, each with two articles on international action and two that are not."""
    made = [Site(f"/{kind}/", kind, [TWINNING, SENEGAL, ROADWORKS, PUBLIC_SERVICE]) for kind in KINDS]
    with serving(made) as server:
        yield server


def prepared(path: Path) -> pipeline.Prepared:
    """The letter collected and selected as a build does (the sites' records kept)."""
    return pipeline.prepare(config.load(path), DAY, path.parent / "outbox", record_health=True)


# --- the scorer -------------------------------------------------------------------------------------------------


def test_the_scorer_meets_its_targets_on_the_labelled_sample() -> None:
    """132 realistic titles of local authorities' sites, labelled by hand: precision ≥ 0.9, recall ≥ 0.8."""
    terms = topics.terms(topics.TOPICS, topics.CONTEXT_TOPICS)
    rows = [line.rstrip("\n").split("\t") for line in SAMPLE.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    assert len(rows) >= 120
    passed = [(label == "1", topics.score(title, summary, terms).value >= 2) for label, title, summary in rows]
    true_positive = sum(wanted and found for wanted, found in passed)
    precision = true_positive / sum(found for _wanted, found in passed)
    recall = true_positive / sum(wanted for wanted, _found in passed)
    assert precision >= 0.9 and recall >= 0.8, (precision, recall)


def test_a_proposal_says_why_and_a_context_word_alone_is_not_enough() -> None:
    terms = topics.terms(topics.TOPICS, topics.CONTEXT_TOPICS)
    found = topics.score("Le maire reçu à Dakar pour le jumelage", "Une mission au Sénégal.", terms)
    assert found.why[:2] == ("jumelage", "Sénégal") and found.value >= 2
    assert topics.score("Délégation de service public de l'eau", "Le nouveau contrat.", terms).value < 2
    assert topics.score("Partenariat avec la CAF pour la crèche", "", terms).value < 2
    # One word found once: « délégation » is not also counted as the English « delegation ».
    assert topics.score("Délégation reçue", "", terms).why == ("délégation",)
    # Stems, accents and English: « jumelées », « Senegal », « twinning » all count.
    assert topics.score("Nos villes jumelées", "", terms).value >= 2
    assert topics.score("Senegal: our twinning with Saint-Louis", "", terms).why[:2] == ("twinning", "Sénégal")


# --- discovery, collection, health ------------------------------------------------------------------------------


def test_each_cms_site_gives_its_members_articles_on_international_action_as_proposals(tmp_path: Path,
                                                                                        cms: Sites) -> None:
    path = project(tmp_path, cms)
    result = prepared(path)
    by_member: dict[str, set[str]] = {}
    for item in result.proposals:
        assert item.proposed and item.source == "sites-adherents" and item.why
        by_member.setdefault(item.member, set()).add(item.title)
    wanted = {TWINNING.title, SENEGAL.title}
    assert by_member == {member(k): wanted for k in ("wordpress", "spip", "drupal", "joomla", "typo3", "sitemap")}
    # Proposals wait: the letter's member news section holds none of them.
    assert all(s.id != "collectivites" for s in result.letter.sections)
    kept = sites.load(config.load(path).cache_dir)
    how = {site.member: (site.kind, site.how, site.feeds) for site in kept.values()}
    assert how[member("wordpress")] == ("feed", "link", (cms.address("/wordpress/feed/"),))  # not its comments
    assert how[member("spip")][:2] == ("feed", "spip")
    assert how[member("spip")][2] == (cms.address("/spip/spip.php?page=backend"),)  # under the site's path
    assert how[member("drupal")][:2] == ("feed", "drupal")
    assert how[member("joomla")][2] == (cms.address("/joomla/?format=feed&type=rss"),)
    assert how[member("typo3")][:2] == ("feed", "typo3")
    assert how[member("sitemap")][:2] == ("sitemap", "sitemap.xml")
    assert how[member("nofeed")][0] == "none"
    # One warning for the sites that need the team, naming the command that lists them.
    warnings = [p.message for c in result.collected for p in c.problems if c.source == "sites-adherents"]
    assert len(warnings) == 1 and "digest sources --members" in warnings[0]


def test_the_second_reading_asks_only_for_what_changed(tmp_path: Path, cms: Sites) -> None:
    path = project(tmp_path, cms, kinds=("wordpress", "spip"))
    first = prepared(path)
    cms.requests.clear()
    second = prepared(path)
    assert {i.uid for i in second.proposals} == {i.uid for i in first.proposals} and len(first.proposals) == 4
    # Feeds were found last time: only the feeds are asked for, with their validators (an unchanged feed: 304).
    assert sorted(cms.requests) == ["/spip/spip.php?page=backend", "/wordpress/feed/"]


def test_a_site_is_looked_at_again_after_recheck_days(tmp_path: Path, cms: Sites) -> None:
    path = project(tmp_path, cms, kinds=("wordpress",), extra="\n[member_sites]\nrecheck_days = 30\n")
    prepared(path)
    folder = config.load(path).cache_dir
    kept = sites.load(folder)
    long_ago = {k: replace(v, looked="2026-10-01T00:00:00+00:00") for k, v in kept.items()}
    sites.save(folder, long_ago)
    cms.requests.clear()
    prepared(path)
    assert "/wordpress/" in cms.requests  # its page read again for its feeds


def test_sources_members_lists_the_members_to_call(tmp_path: Path, cms: Sites) -> None:
    path = project(tmp_path, cms)
    prepared(path)
    ran = CliRunner().invoke(cli, ["--lang", "en", "sources", "--members", "--config", str(path)])
    assert ran.exit_code == 0, ran.output
    lines = ran.output.splitlines()
    listed = [line for line in lines if not line.startswith("    ")]
    assert [(line[:18].strip(), line[18:].split("  ")[0].strip()) for line in listed[:-1]] == [
        ("no feed found", member("nofeed")), ("feed failing", member("failing")), ("feed failing", member("slow"))]
    assert "HTTP 500" in ran.output  # why the failing feed fails
    assert listed[-1] == "6 of 9 members' sites read well."


def test_a_silent_site_is_listed_after_silent_days(tmp_path: Path) -> None:
    old = replace(TWINNING, day=datetime(2026, 1, 5, tzinfo=UTC))
    with serving([Site("/wordpress/", "wordpress", [old])]) as server:
        path = project(tmp_path, server, kinds=("wordpress",))
        prepared(path)
        ran = CliRunner().invoke(cli, ["--lang", "en", "sources", "--members", "--config", str(path)])
    assert ran.output.splitlines()[0].startswith("silent"), ran.output
    assert "nothing new for over 183 days; newest article: 2026-01-05" in ran.output


# --- the team's decisions ---------------------------------------------------------------------------------------


def test_proposals_are_listed_accepted_and_dismissed_on_the_command_line(tmp_path: Path, cms: Sites) -> None:
    path = project(tmp_path, cms, kinds=("wordpress", "drupal"))
    runner = CliRunner()
    listed = runner.invoke(cli, ["--lang", "en", "proposals", "--config", str(path)])
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if line.strip().split("  ")[0].isdigit()]
    assert len(lines) == 4 and "4 proposals wait for a decision" in listed.output
    number = int(lines[0].split()[0])
    assert "why: " in listed.output and "jumelage" in listed.output
    cfg = config.load(path)
    with proposals.Proposals(cfg.subscribers_path) as store:
        chosen = store.get(number)
    assert chosen is not None
    accepted = runner.invoke(cli, ["--lang", "en", "proposals", "accept", str(number), "--config", str(path)])
    assert accepted.exit_code == 0, accepted.output
    issue = tomllib.loads((tmp_path / "issues" / "2026-12.toml").read_text(encoding="utf-8"))
    written = issue["item"][0]
    assert written["title"] == f"{chosen.member} — {chosen.title}" and written["url"] == chosen.url
    assert written["section"] == "collectivites" and chosen.uid in issue["pin"]
    other = int(lines[1].split()[0])
    assert runner.invoke(cli, ["proposals", "dismiss", str(other), "--config", str(path)]).exit_code == 0
    again = runner.invoke(cli, ["--lang", "en", "proposals", "dismiss", str(other), "--config", str(path)])
    assert again.exit_code == 2 and f"proposal {other} cannot be decided (dismissed)" in again.output
    relisted = runner.invoke(cli, ["--lang", "en", "proposals", "--config", str(path)])
    assert "2 proposals wait for a decision" in relisted.output  # neither the accepted nor the dismissed one
    # The letter shows the accepted article, attributed, linking to the member's page.
    built = pipeline.build(cfg, DAY, tmp_path / "outbox")
    section = next(s for s in built.letter.sections if s.id == "collectivites")
    assert [(i.title, i.url) for i in section.items] == [(f"{chosen.member} — {chosen.title}", chosen.url)]
    text = " ".join(built.rendered.text.replace("\u00a0", " ").split())  # wrapped, typeset as French
    assert f"{chosen.member} — " in text and chosen.url in text


def test_a_score_past_auto_score_goes_into_the_letter_without_a_click(tmp_path: Path, cms: Sites) -> None:
    path = project(tmp_path, cms, kinds=("wordpress",), extra="\n[member_sites]\nauto_score = 6\n")
    result = prepared(path)
    section = next(s for s in result.letter.sections if s.id == "collectivites")
    # The twinning article scores 9 (jumelage and délégation in its title, ville jumelle, Japon, échange in its
    # summary); Kaolack's 5 (coopération décentralisée in its title, Sénégal in its summary).
    assert [i.title for i in section.items] == [f"{member('wordpress')} — {TWINNING.title}"]
    assert [i.title for i in result.proposals] == [SENEGAL.title]


def test_the_desk_shows_proposals_and_accepts_one_in_a_click(tmp_path: Path, cms: Sites) -> None:
    from tests.preview_support import running
    from tests.test_preview import post, request

    path = project(tmp_path, cms, kinds=("spip",))
    with running(path) as (session, server):
        page = request(server.url)[2]
        assert "Proposées par les sites des adhérents" in page or "Proposed by the members' sites" in page
        waiting = session.snapshot.proposals
        assert [p.member for p in waiting] == [member("spip")] * 2
        assert f'id="proposal-{waiting[0].id}"' in page and "jumelage" in page
        status, answer = post(server, op="proposal-accept", name=str(waiting[0].id))
        assert status == 200, answer
        assert [p.id for p in session.snapshot.proposals] == [waiting[1].id]
        section = next(s for s in session.snapshot.built.letter.sections if s.id == "collectivites")  # type: ignore[union-attr]
        assert section.items[0].title == f"{member('spip')} — {waiting[0].title}"
        status, answer = post(server, op="proposal-dismiss", name=str(waiting[1].id))
        assert status == 200 and session.snapshot.proposals == []
        status, answer = post(server, op="proposal-dismiss", name=str(waiting[1].id))
        assert status == 409  # decided already: said, nothing changed


# --- what a stranger's site may not do --------------------------------------------------------------------------


def test_a_page_cannot_point_digest_at_a_script_or_another_host_robots(tmp_path: Path) -> None:
    page = (b'<html><head><link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
            b'<link rel="alternate" type="application/rss+xml" href="file:///etc/passwd"></head></html>')
    assert discovery.links(page, "https://ville.example/")[0] == ()

    async def get(address: str) -> discovery.Answer:
        if address.endswith("robots.txt"):
            return address, b"Sitemap: https://other.example/sitemap.xml\n", "text/plain"
        from digest.errors import SourceError

        raise SourceError("HTTP 404 Not Found")

    import asyncio

    found = asyncio.run(discovery.discover("https://ville.example/mairie", get))
    assert found.kind == "none"  # robots.txt's sitemap on another host was not followed


def test_a_plain_sitemap_gives_titles_from_addresses(tmp_path: Path) -> None:
    body = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<url><loc>https://ville.example/actualites/1234-jumelage-avec-kaolack.html</loc>"
            b"<lastmod>2026-11-20</lastmod></url><url><loc>https://ville.example/index.php</loc></url></urlset>")
    source = config.SourceConfig(name="s", section="x", url="https://ville.example/sitemap.xml",
                                 location="https://ville.example/sitemap.xml", format="sitemap")
    from zoneinfo import ZoneInfo

    from digest.collectors.base import Context

    got = sitemap.collect(source, Fetched(body, source.location), Context(tz=ZoneInfo("Europe/Paris")))
    assert [(i.title, i.date) for i in got.items] == [("Jumelage avec kaolack", datetime(2026, 11, 20, tzinfo=UTC))]


def test_a_member_sites_source_names_a_file_not_a_web_address(tmp_path: Path) -> None:
    with serving([]) as server:
        path = project(tmp_path, server, kinds=())
    text = path.read_text(encoding="utf-8").replace('url = "adherents.csv"\nformat',
                                                    'url = "https://example.org/adherents.csv"\nformat')
    path.write_text(text + '\n[member_sites]\nmin_scor = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        config.load(path)
    said = str(raised.value)
    assert "sites-adherents" in said and "members file" in said and "min_score" in said  # both at once


def test_the_installed_digest_lists_proposals(tmp_path: Path, cms: Sites) -> None:
    path = project(tmp_path, cms, kinds=("joomla",))
    ran = installed.run("--lang", "fr", "proposals", "--config", str(path))
    assert ran.exit_code == 0, ran.output
    assert member("joomla") in ran.output and "pourquoi : jumelage" in ran.output.replace("\u00a0", " ")
    assert "2 propositions attendent une décision" in ran.output


def test_the_sites_record_survives_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / sites.FILE).write_text("{ not json", encoding="utf-8")
    assert sites.load(tmp_path) == {}
    sites.save(tmp_path, {"https://a.example/": sites.Site("A", "https://a.example/")})
    kept = json.loads((tmp_path / sites.FILE).read_text(encoding="utf-8"))
    assert kept["sites"]["https://a.example/"]["member"] == "A"


def test_a_dry_reading_keeps_the_feeds_found_but_counts_no_failure(tmp_path: Path, cms: Sites) -> None:
    path = project(tmp_path, cms, kinds=("wordpress", "failing"))
    pipeline.prepare(config.load(path), DAY, tmp_path / "outbox", record_health=False)  # the desk's, check's
    kept = {s.member: s for s in sites.load(config.load(path).cache_dir).values()}
    assert kept[member("wordpress")].feeds == (cms.address("/wordpress/feed/"),)
    assert kept[member("failing")].failures == 0 and kept[member("failing")].last_attempt is None


def test_a_site_of_thousands_of_articles_costs_no_more_than_its_newest_fifty(tmp_path: Path) -> None:
    many = [replace(TWINNING, title=f"{TWINNING.title} n° {n}", slug=f"jumelage-{n}") for n in range(300)]
    with serving([Site("/wordpress/", "wordpress", many)]) as server:
        result = prepared(project(tmp_path, server, kinds=("wordpress",)))
    assert len(result.proposals) == 50


def test_two_members_sharing_a_site_read_it_once(tmp_path: Path, cms: Sites) -> None:
    path = project(tmp_path, cms, kinds=("wordpress",))
    members = tmp_path / "adherents.csv"
    members.write_text(members.read_text(encoding="utf-8") + f"Métropole;metro.fr;{cms.address('/wordpress/')}\n",
                       encoding="utf-8")
    result = prepared(path)
    assert {i.member for i in result.proposals} == {member("wordpress")}  # the first that names it
    assert cms.hits("/wordpress/feed/") == ["/wordpress/feed/"]


def test_digests_own_failure_on_one_site_loses_only_that_site(tmp_path: Path, cms: Sites,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.collectors import membersites

    real = membersites.discover

    async def failing(site: str, get: discovery.Getter) -> discovery.Found:
        if "/drupal/" in site:
            raise KeyError("a surprise")
        return await real(site, get)

    monkeypatch.setattr(membersites, "discover", failing)
    path = project(tmp_path, cms, kinds=("wordpress", "drupal"))
    result = prepared(path)
    assert {i.member for i in result.proposals} == {member("wordpress")}
    kept = {s.member: s for s in sites.load(config.load(path).cache_dir).values()}
    assert "KeyError" in kept[member("drupal")].last_error
