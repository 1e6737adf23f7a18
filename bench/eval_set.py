"""A hand-labelled multilingual evaluation set: members and calls written the way people write.

Three partnered nodes (Belgium, Sweden, Germany); members from eight countries writing their
occupations and skills as free phrases in seven languages, often not in their first-listed
language; calls whose required skills are free text. Labels per call:

- ``relevant``: member -> grade (2 = does this job, 1 = could do it);
- ``traps``: member -> kind, members that must not be in the top 10: ``decoy`` (shares words or
  a hierarchy neighbour, different work), ``unavailable`` (fits, but not on the call's dates),
  ``language`` (fits, but lacks a working language the call needs), ``pair`` (a translator of
  another language pair);
- ``coop`` members (visibility "coop") of another node are *forbidden*: never suggested there.

``wrote`` is the language the member's phrases are written in: used only for the
cross-language recall metric, never given to the pipeline (which gets the declared languages).
Nothing here is derived from the vocabulary: the phrases were written before looking at labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

BE, SE, DE = "be.smart.example", "se.smart.example", "de.smart.example"


@dataclass(frozen=True)
class Member:
    key: str
    node: str
    country: str
    langs: str  # "sv:native en:C1"
    wrote: str
    occupations: str  # phrases separated by ";"
    skills: str
    visibility: str = "partners"
    avail: tuple[date, date] | None = None
    pairs: str = ""  # translators: "de>sv fr>sv"

    def languages(self) -> dict[str, str]:
        return dict(x.split(":") for x in self.langs.split())

    def phrases(self, field_name: str) -> list[str]:
        return [p.strip() for p in getattr(self, field_name).split(";") if p.strip()]


@dataclass(frozen=True)
class CallSpec:
    key: str
    node: str
    country: str
    author: str
    lang: str  # the language the call is written in
    languages: tuple[str, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    all_languages: bool = False  # every working language needed (else any one)
    pairs: tuple[str, ...] = ()  # "de>sv"
    dates: tuple[date, date] | None = None
    relevant: dict[str, int] = field(default_factory=dict)
    traps: dict[str, str] = field(default_factory=dict)


D = date
SUMMER = (D(2027, 6, 1), D(2027, 8, 31))
WINTER = (D(2027, 1, 10), D(2027, 3, 1))

# fmt: off
M = Member
MEMBERS: tuple[Member, ...] = (
    # --- authors (they write the calls; never suggested for their own call)
    M("author_de", DE, "DE", "de:native en:C1", "de", "Produzentin", "Kulturmanagement"),
    M("author_se", SE, "SE", "sv:native en:C1", "sv", "producent", "projektledning"),
    M("author_be", BE, "BE", "fr:native nl:C1 en:C1", "fr", "productrice", "gestion culturelle"),
    # --- grant writing (call grant_de, German, required only as free text)
    M("sv_grant", SE, "SE", "sv:native en:C1 de:B2", "sv", "projektsamordnare",
      "skriva bidragsansökningar; EU-ansökningar; söka stiftelsemedel"),
    M("fr_grant", BE, "BE", "fr:native en:B2 de:B1", "fr", "chargée de projets européens",
      "rédaction de dossiers de subvention; recherche de financements"),
    M("it_grant", BE, "IT", "it:native en:C1", "it", "europrogettista",
      "progettazione europea; scrittura di bandi; ricerca fondi"),
    M("en_grant", DE, "AT", "en:C2 de:native", "en", "grant writer",
      "grant writing; EU funding applications; fundraising"),
    M("de_copy", DE, "DE", "de:native en:B2", "de", "Werbetexter",
      "Werbetexte schreiben; Slogans"),
    # --- documentary film (call film_sv, Swedish)
    M("sv_film", SE, "SE", "sv:native en:B2", "sv", "filmare",
      "klippning av dokumentärfilm; redigering i DaVinci Resolve; kamerajobb"),
    M("nl_cam", BE, "BE", "nl:native en:C1 sv:B1", "nl", "cameraman",
      "montage; videomontage; camerawerk"),
    M("es_edit", BE, "ES", "es:native en:B2", "es", "montadora de vídeo",
      "montaje de vídeo; edición de vídeo; corrección de color"),
    M("de_cam", DE, "DE", "de:native en:C1", "de", "Kameramann", "Videoschnitt; Kameraführung"),
    M("fr_monteur", BE, "FR", "fr:native en:C1", "fr", "monteur vidéo",
      "montage vidéo; étalonnage", avail=WINTER),
    M("it_montatore", BE, "IT", "it:native", "it", "montatore video",
      "montaggio video; riprese"),
    # --- translation German -> Swedish (call transl_de)
    M("sv_transl", SE, "SE", "sv:native de:C1 en:C1", "sv", "översättare",
      "översättning från tyska till svenska; litterär översättning", pairs="de>sv en>sv"),
    M("de_transl", DE, "DE", "de:native sv:C2", "de", "Übersetzerin",
      "Übersetzungen Deutsch-Schwedisch; Lektorat", pairs="de>sv sv>de"),
    M("fr_transl", BE, "FR", "fr:native en:C2 de:B2", "fr", "traductrice",
      "traduction anglais-français; sous-titrage", pairs="en>fr"),
    M("nl_transl", BE, "BE", "nl:native en:C1 de:C1", "nl", "vertaler",
      "vertalen Engels-Nederlands; ondertiteling", pairs="en>nl de>nl"),
    # --- bookkeeping (call books_be, French)
    M("nl_boek", BE, "BE", "nl:native fr:C1 en:B2", "nl", "boekhouder",
      "boekhouding; btw-aangifte; loonadministratie"),
    M("fr_compta", BE, "BE", "fr:native nl:B1", "fr", "comptable",
      "comptabilité; déclarations TVA; bilans"),
    M("de_buch", DE, "DE", "de:native fr:B2", "de", "Buchhalterin",
      "Buchhaltung; Umsatzsteuervoranmeldung; Jahresabschluss"),
    M("sv_bok_coop", SE, "SE", "sv:native fr:C1", "sv", "redovisningskonsult",
      "bokföring; momsdeklaration", visibility="coop"),
    M("be_bok_coop", BE, "BE", "fr:native", "fr", "aide-comptable",
      "tenue de la comptabilité; encodage des factures", visibility="coop"),
    # --- live sound (call sound_be, English)
    M("sv_ljud", SE, "SE", "sv:native en:C1", "sv", "ljudtekniker", "livemix; PA-system"),
    M("fr_son", BE, "FR", "fr:native en:B2", "fr", "ingénieur du son",
      "mixage façade; sonorisation de concerts"),
    M("it_fonico", BE, "IT", "it:native en:B1", "it", "fonico", "mixaggio live; service audio"),
    M("de_ton", DE, "DE", "de:native en:B2", "de", "Tontechniker", "Live-Mischung; Tonschnitt"),
    M("nl_geluid", BE, "NL", "nl:native en:C1", "nl", "geluidstechnicus",
      "live geluid mixen", avail=WINTER),
    M("nl_licht", BE, "NL", "nl:native en:C1", "nl", "lichttechnicus",
      "lichtontwerp; lichttafel bedienen"),
    # --- project management (call pm_be, Dutch)
    M("en_pm", SE, "IE", "en:native sv:B1", "en", "project manager",
      "project management; budgeting; stakeholder management"),
    M("de_pl", DE, "DE", "de:native nl:B2 en:C1", "de", "Projektleiter",
      "Projektmanagement; Budgetplanung"),
    M("es_pm", BE, "ES", "es:native en:C1", "es", "jefa de proyecto",
      "gestión de proyectos; gestión de presupuestos"),
    M("it_ictpm", BE, "IT", "it:native en:C1", "it", "project manager IT",
      "gestione progetti informatici; Scrum"),
    # --- care (call care_be, Spanish)
    M("fr_aide", BE, "BE", "fr:native es:B2", "fr", "aide-soignante",
      "accompagnement des personnes âgées; soins à domicile"),
    M("sv_usk", SE, "SE", "sv:native en:B2 es:B1", "sv", "undersköterska",
      "äldreomsorg; omvårdnad"),
    M("es_cuid", BE, "ES", "es:native", "es", "cuidadora",
      "cuidado de personas mayores; acompañamiento"),
    M("de_pflege_coop", DE, "DE", "de:native es:B2", "de", "Altenpflegerin",
      "Altenpflege; Betreuung von Senioren", visibility="coop"),
    # --- architecture / urban development (call arch_de, Italian text)
    M("de_arch", DE, "DE", "de:native it:B2 en:C1", "de", "Architektin",
      "Stadtplanung; Bauzeichnungen"),
    M("nl_arch", BE, "NL", "nl:native en:C1", "nl", "architect",
      "stedenbouw; ruimtelijke ordening"),
    M("sv_arch", SE, "SE", "sv:native en:C1", "sv", "arkitekt", "stadsplanering; stadsutveckling"),
    M("en_interior", SE, "GB", "en:native", "en", "interior designer",
      "interior design; furniture selection"),
    # --- games (call games_se, English)
    M("sv_spel", SE, "SE", "sv:native en:C1", "sv", "spelutvecklare",
      "Unity; C#; spelprogrammering"),
    M("fr_jeu", BE, "FR", "fr:native en:B2", "fr", "développeur de jeux vidéo",
      "Unity; conception de niveaux"),
    M("de_spiel", DE, "DE", "de:native en:C1", "de", "Spieleentwickler",
      "Spieleentwicklung; Unreal Engine"),
    M("it_web", BE, "IT", "it:native en:B2", "it", "sviluppatore web",
      "JavaScript; sviluppo siti web"),
    # --- qualitative research (call research_de, German)
    M("fr_socio", BE, "BE", "fr:native de:B2 en:C1", "fr", "sociologue",
      "entretiens qualitatifs; recherche qualitative"),
    M("en_research", SE, "SE", "en:C2 sv:native", "en", "researcher",
      "qualitative research; interviewing; ethnography"),
    M("nl_onderzoek", BE, "NL", "nl:native de:C1", "nl", "onderzoeker",
      "kwalitatief onderzoek; interviews afnemen"),
    M("be_research_coop", BE, "BE", "fr:native de:C1", "fr", "chercheuse en sciences sociales",
      "recherche qualitative; entretiens", visibility="coop"),
    M("de_research_coop", DE, "DE", "de:native", "de", "Sozialforscherin",
      "qualitative Sozialforschung; Interviews", visibility="coop"),
    # --- social work with young people (call social_se, Swedish)
    M("de_sozial", DE, "DE", "de:native en:C1", "de", "Sozialarbeiterin",
      "Jugendarbeit; Sozialarbeit"),
    M("fr_educ", BE, "BE", "fr:native en:B2", "fr", "éducateur spécialisé",
      "travail social auprès des jeunes; animation"),
    M("es_social", BE, "ES", "es:native en:B1", "es", "trabajadora social",
      "trabajo social con jóvenes"),
    M("sv_musikped", SE, "SE", "sv:native", "sv", "musiklärare", "musikundervisning; kör"),
    # --- environment (call env_be, French)
    M("de_umwelt", DE, "DE", "de:native fr:B2 en:C1", "de", "Umweltberater",
      "CO2-Bilanz; Nachhaltigkeitsberatung"),
    M("sv_miljo", SE, "SE", "sv:native en:C1 fr:B1", "sv", "miljökonsult",
      "klimatberäkningar; miljöledning"),
    M("it_amb", BE, "IT", "it:native fr:B2", "it", "consulente ambientale",
      "bilancio di carbonio; sostenibilità"),
    # --- cleaning (call clean_be, Dutch)
    M("fr_nettoyage", BE, "BE", "fr:native nl:B1", "fr", "agent d'entretien",
      "nettoyage; nettoyage de bureaux"),
    M("de_reinigung", DE, "DE", "de:native en:B1", "de", "Reinigungskraft", "Gebäudereinigung"),
    M("es_limpieza", BE, "ES", "es:native en:A2", "es", "limpiadora",
      "limpieza; limpieza de oficinas"),
    # --- contemporary dance (call dance_be, Italian)
    M("fr_chore", BE, "FR", "fr:native it:B2 en:C1", "fr", "chorégraphe",
      "chorégraphie; danse contemporaine"),
    M("sv_dans", SE, "SE", "sv:native en:C1", "sv", "koreograf", "koreografi; samtida dans"),
    M("en_dance", DE, "GB", "en:native de:B2", "en", "dancer", "contemporary dance; choreography"),
    M("de_licht", DE, "DE", "de:native en:C1 it:B1", "de", "Lichtdesignerin",
      "Lichtdesign; Bühnenbeleuchtung"),
    M("es_dancemkt", BE, "ES", "es:native en:C1 it:B2", "es", "responsable de marketing",
      "marketing digital; redes sociales"),
    # --- business consulting (call biz_se, English)
    M("de_berater", DE, "DE", "de:native en:C1", "de", "Unternehmensberater",
      "Businessplan; Unternehmensberatung"),
    M("nl_advies", BE, "BE", "nl:native en:C1", "nl", "bedrijfsadviseur",
      "ondernemingsplan; bedrijfsadvies"),
    M("it_consul", BE, "IT", "it:native en:B2", "it", "consulente aziendale",
      "business plan; consulenza aziendale"),
    # --- English writers whose first-listed language is not English (linking-language defect)
    M("sv_first_en", SE, "SE", "sv:native en:C2", "en", "sound engineer",
      "live sound mixing; front of house"),
    # --- background members: the rest of a coop
    M("bg_sv_actor", SE, "SE", "sv:native en:B2", "sv", "skådespelare", "improvisation; teater"),
    M("bg_fr_photo", BE, "BE", "fr:native en:B1", "fr", "photographe",
      "photographie; retouche photo"),
    M("bg_de_musik", DE, "DE", "de:native en:B2", "de", "Musikerin", "Klavier; Gesang"),
    M("bg_nl_design", BE, "BE", "nl:native en:C1", "nl", "grafisch ontwerper",
      "grafisch ontwerp; typografie"),
    M("bg_it_cost", BE, "IT", "it:native", "it", "costumista", "sartoria teatrale"),
    M("bg_es_ilus", BE, "ES", "es:native en:B2", "es", "ilustradora", "ilustración digital"),
    M("bg_en_web", SE, "SE", "en:C1 sv:native", "en", "web developer",
      "web development; WordPress"),
    M("bg_de_dj", DE, "DE", "de:native en:C1", "de", "DJ", "Musikproduktion"),
    M("bg_sv_keramik", SE, "SE", "sv:native", "sv", "keramiker", "drejning; glasyr"),
    M("bg_fr_journ", BE, "BE", "fr:native en:B2", "fr", "journaliste", "écriture; reportage"),
)

C = CallSpec
CALLS: tuple[CallSpec, ...] = (
    C("grant_de", DE, "DE", "author_de", "de", ("de", "en"),
      ("Förderanträge schreiben", "EU-Förderprogramme"), ("Fundraising",),
      relevant={"sv_grant": 2, "fr_grant": 2, "it_grant": 2, "en_grant": 2},
      traps={"de_copy": "decoy"}),
    C("film_sv", SE, "SE", "author_se", "sv", ("sv", "en"),
      ("filmredigering", "kameraarbete"), ("färgkorrigering",), dates=SUMMER,
      relevant={"sv_film": 2, "nl_cam": 2, "es_edit": 2, "de_cam": 2},
      traps={"fr_monteur": "unavailable", "it_montatore": "language"}),
    C("transl_de", DE, "DE", "author_de", "de", ("de", "sv"),
      ("Übersetzung Deutsch-Schwedisch",), ("Lektorat",), all_languages=True,
      pairs=("de>sv",),
      relevant={"sv_transl": 2, "de_transl": 2},
      traps={"fr_transl": "pair", "nl_transl": "pair"}),
    C("books_be", BE, "BE", "author_be", "fr", ("fr", "nl"),
      ("comptabilité", "déclarations de TVA"),
      relevant={"nl_boek": 2, "fr_compta": 2, "de_buch": 2, "be_bok_coop": 2},
      traps={}),
    C("sound_be", BE, "BE", "author_be", "en", ("en",),
      ("live sound mixing", "sound engineer"), dates=SUMMER,
      relevant={"sv_ljud": 2, "fr_son": 2, "it_fonico": 2, "de_ton": 2, "sv_first_en": 2},
      traps={"nl_geluid": "unavailable", "nl_licht": "decoy"}),
    C("pm_be", BE, "BE", "author_be", "nl", ("nl", "en"),
      ("projectmanagement", "budgetbeheer"),
      relevant={"en_pm": 2, "de_pl": 2, "es_pm": 2, "it_ictpm": 1},
      traps={}),
    C("care_be", BE, "BE", "author_be", "es", ("es", "fr"),
      ("cuidado de personas mayores",), ("acompañamiento",),
      relevant={"fr_aide": 2, "sv_usk": 2, "es_cuid": 2},
      traps={}),
    C("arch_de", DE, "DE", "author_de", "it", ("it", "en"),
      ("architetto", "pianificazione urbana"),
      relevant={"de_arch": 2, "nl_arch": 2, "sv_arch": 2},
      traps={"en_interior": "decoy"}),
    C("games_se", SE, "SE", "author_se", "en", ("en",),
      ("game development", "Unity"),
      relevant={"sv_spel": 2, "fr_jeu": 2, "de_spiel": 2},
      traps={"it_web": "decoy"}),
    C("research_de", DE, "DE", "author_de", "de", ("de",),
      ("qualitative Forschung", "Interviews führen"),
      relevant={"fr_socio": 2, "nl_onderzoek": 2, "de_research_coop": 2},
      traps={"en_research": "language"}),
    C("social_se", SE, "SE", "author_se", "sv", ("sv", "en"),
      ("socialt arbete med ungdomar",), ("musikpedagogik",),
      relevant={"de_sozial": 2, "fr_educ": 2, "es_social": 2, "sv_musikped": 1},
      traps={}),
    C("env_be", BE, "BE", "author_be", "fr", ("fr", "en"),
      ("bilan carbone", "conseil en environnement"),
      relevant={"de_umwelt": 2, "sv_miljo": 2, "it_amb": 2},
      traps={}),
    C("clean_be", BE, "BE", "author_be", "nl", ("nl", "fr", "en"),
      ("schoonmaak", "kantoren schoonmaken"),
      relevant={"fr_nettoyage": 2, "de_reinigung": 2},
      traps={"es_limpieza": "language"}),
    C("dance_be", BE, "BE", "author_be", "it", ("it", "en"),
      ("coreografia", "danza contemporanea"),
      relevant={"fr_chore": 2, "sv_dans": 2, "en_dance": 2},
      traps={"de_licht": "decoy", "es_dancemkt": "decoy"}),
    C("biz_se", SE, "SE", "author_se", "en", ("en",),
      ("business plan", "business consulting"),
      relevant={"de_berater": 2, "nl_advies": 2, "it_consul": 2},
      traps={}),
)

# fmt: on


def forbidden(call: CallSpec, member: Member) -> bool:
    """Never to be suggested: the author, or a coop-only member of another node."""
    return member.key == call.author or (member.visibility == "coop" and member.node != call.node)


def check() -> None:
    """Labels name existing members; relevant members are not forbidden."""
    keys = {m.key for m in MEMBERS}
    assert len(keys) == len(MEMBERS)
    by_key = {m.key: m for m in MEMBERS}
    for c in CALLS:
        assert c.author in keys
        for k in list(c.relevant) + list(c.traps):
            assert k in keys, (c.key, k)
            assert not forbidden(c, by_key[k]), (c.key, k)
