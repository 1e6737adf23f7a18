"""Members of the blind evaluation set (see eval_blind.py), grouped by the call they were
written for; some serve several calls (noted). Keys say where a member lives and what they do,
so that a verbose run reads without a lookup table; the ranker never sees keys' meaning."""

from __future__ import annotations

from datetime import date

from eval_blind import Member

BE, SE, DE = "smart.be", "smart.se", "smart.de"
ESCO = "http://data.europa.eu/esco/"
# ESCO IRIs members picked from a list (occupations_en.csv / skills_en.csv).
CAMERA_OPERATOR = ESCO + "occupation/6fed206a-ac4d-492b-a81a-5a3a0f2b67bc"
EDIT_MOVING_IMAGES = ESCO + "skill/9ce52938-fe28-4548-b38d-0c783933e19a"
ILLUSTRATOR = ESCO + "occupation/1b949bae-882f-40ff-9fe7-3c8ede5e38b5"
HOME_CARE_AIDE = ESCO + "occupation/1391bdf9-bd61-4fb5-91ca-c29036ab2b60"
GAMES_DEVELOPER = ESCO + "occupation/9ebaf3f0-0be0-47b7-b2b1-b3b04130fa81"
UNITY = ESCO + "skill/d1a86399-24d8-415f-98b9-e8cbb6b04a26"
SOCIOLOGIST = ESCO + "occupation/11df8941-508c-4103-ad40-52cdf9430a59"
QUALITATIVE_RESEARCH = ESCO + "skill/fa465db3-56e8-4b5d-a781-e2a313a4ed2d"
TRANSLATOR = ESCO + "occupation/1a07bd7d-2e1d-4930-a84a-1a442b8f2a44"


def d(a: str, b: str) -> tuple[date, date]:
    return date.fromisoformat(a), date.fromisoformat(b)


# A table, one member per entry: ruff format would spread it over ~900 lines.
# fmt: off
MEMBERS: tuple[Member, ...] = (
    # -- sound for a theatre tour (de) ------------------------------------------------------
    Member("at_tontechniker", DE, "AT", "de:native en:B2", "de",
        ("Tontechniker",),
        ("Live-Tonmischung", "Beschallung für Theater und Konzerte", "Funkstrecken (Sennheiser)")),
    Member("se_ljudtekniker", SE, "SE", "sv:native de:C1 en:C1", "sv",
        ("ljudtekniker",), ("livemixning", "ljud för teater och turnéer", "trådlösa mikrofoner")),
    Member("be_technicien_son", BE, "BE", "fr:native de:B2 nl:B1", "fr",
        ("technicien son",), ("régie son", "sonorisation de spectacles", "mixage façade")),
    # also a partial fit (1) for the lighting call
    Member("de_veranstaltungstechnik", DE, "DE", "de:native en:B2", "de",
        ("Veranstaltungstechnikerin",), ("Bühnentechnik", "Rigging", "Licht und Ton für Events")),
    Member("de_toepferin", DE, "DE", "de:native en:B1", "de",
        ("Töpferin",), ("Ton und Keramik", "Arbeit an der Drehscheibe", "Glasuren mischen")),
    Member("fr_ingenieur_son", BE, "FR", "fr:native en:B2", "fr",
        ("ingénieur du son",), ("mixage live", "sonorisation de concerts")),
    Member("se_ljud_coop", SE, "SE", "sv:native de:C1 en:C1", "sv",
        ("ljudtekniker",), ("livemix", "PA-system"), visibility="coop"),
    # -- documentary camera and editing (sv) ------------------------------------------------
    Member("se_filmfotograf", SE, "SE", "sv:native en:C1", "sv",
        ("filmfotograf och klippare",),
        ("dokumentärfilm", "klippning i Premiere Pro", "färgsättning")),
    Member("de_kameramann", DE, "DE", "de:native en:C1", "de",
        ("Kameramann",),
        ("Dokumentarfilm", "Schnitt mit Avid und Premiere", "Farbkorrektur in DaVinci Resolve")),
    Member("se_picked_camera", SE, "SE", "sv:native en:C1", "sv",
        (), ("dokumentärer för SVT",), picked_iris=(CAMERA_OPERATOR, EDIT_MOVING_IMAGES)),
    Member("se_frisor", SE, "SE", "sv:native en:B2", "sv",
        ("frisör",), ("klippning och färgning", "herrklippning", "hårfärgning")),
    Member("at_kamerafrau", DE, "AT", "de:native fr:B2 en:A2", "de",
        ("Kamerafrau",), ("Dokumentarfilm", "Schnitt")),
    # -- legal translation nl>fr (fr) -------------------------------------------------------
    Member("be_traductrice_juridique", BE, "BE", "fr:native nl:C2 en:C1", "fr",
        ("traductrice juridique",), ("traduction de contrats", "droit des sociétés"),
        picked_iris=(TRANSLATOR,), pairs="nl>fr en>fr"),
    Member("be_beedigd_vertaler", BE, "BE", "nl:native fr:C2 en:B2", "nl",
        ("beëdigd vertaler",), ("juridische vertalingen", "contracten en vonnissen"),
        pairs="fr>nl nl>fr"),
    Member("be_translator_en", BE, "BE", "en:native fr:C2 nl:C1", "en",
        ("translator",),
        ("legal translation", "contracts and terms of service", "sworn translations"),
        pairs="nl>fr fr>en nl>en"),
    Member("be_traducteur_litteraire", BE, "BE", "fr:native nl:C1", "fr",
        ("traducteur littéraire",), ("traduction de romans", "sous-titrage"), pairs="nl>fr"),
    Member("fr_traductrice_allemand", BE, "FR", "fr:native de:C2 en:B2", "fr",
        ("traductrice juridique",), ("traduction juridique allemand-français",), pairs="de>fr"),
    # -- bookkeeping (nl) -------------------------------------------------------------------
    Member("be_boekhouder", BE, "BE", "nl:native fr:C1 en:B2", "nl",
        ("boekhouder",), ("boekhouding voor vzw's", "btw-aangifte", "Exact Online")),
    Member("se_redovisning", SE, "SE", "sv:native en:C1", "sv",
        ("redovisningskonsult",), ("bokföring", "momsredovisning", "bokslut")),
    Member("de_buchhalterin", DE, "DE", "de:native en:B2", "de",
        ("Buchhalterin",), ("Buchhaltung", "Umsatzsteuervoranmeldung", "DATEV")),
    Member("be_contabile", BE, "BE", "it:native fr:C1 en:B1", "it",
        ("contabile",), ("contabilità", "dichiarazioni IVA", "fatturazione elettronica")),
    # the author of the call in this group (never to be suggested for it)
    Member("be_administratie", BE, "BE", "nl:native en:C1", "nl",
        ("administratief medewerker",),
        ("facturatie", "administratie", "opvolgen van betalingen")),
    Member("be_boekbinder", BE, "BE", "nl:native en:B2", "nl",
        ("boekbinder",), ("boeken binden", "restauratie van oude boeken", "papier marmeren")),
    # a decoy for bookkeeping, a strong fit (2) for the illustration call
    Member("se_barnboksillustrator", SE, "SE", "sv:native en:C1", "sv",
        ("barnboksillustratör",), ("akvarell", "bilderböcker")),
    Member("se_bokforing_coop", SE, "SE", "sv:native en:C1", "sv",
        ("ekonomiassistent",), ("bokföring", "löpande redovisning"), visibility="coop"),
    # -- EU grant writing and project management (de) ---------------------------------------
    Member("be_projets_culturels", BE, "BE", "fr:native en:C1", "fr",
        ("chargée de projets culturels",),
        ("montage de dossiers de subvention européens", "Europe Créative", "gestion de projet")),
    Member("at_grant_writer", DE, "AT", "en:native de:B2", "en",
        ("grant writer",),
        (
            "grant writing for EU culture programmes",
            "Creative Europe applications",
            "project management",
        )),
    Member("se_projektledare", SE, "SE", "sv:native en:C1 de:B1", "sv",
        ("projektledare",), ("EU-ansökningar", "Kreativa Europa", "projektledning")),
    Member("de_projektmanagerin", DE, "DE", "de:native en:C1", "de",
        ("Projektmanagerin",), ("Projektmanagement", "Scrum", "Budgetplanung")),
    Member("de_architektin", DE, "DE", "de:native en:C1 fr:B1", "de",
        ("Architektin",), ("Altbausanierung", "Bauanträge stellen", "Entwurfsplanung")),
    # -- children's book illustration (it) --------------------------------------------------
    Member("be_illustratrice", BE, "BE", "fr:native it:B2 en:B2", "fr",
        ("illustratrice jeunesse",), ("albums pour enfants", "aquarelle", "mise en page")),
    Member("be_picked_ilustradora", BE, "BE", "es:native fr:C1 en:B2", "es",
        (), ("ilustración infantil", "acuarela"), picked_iris=(ILLUSTRATOR,)),
    Member("be_illustratore", BE, "BE", "it:native fr:C1", "it",
        ("illustratore",), ("illustrazione editoriale", "fumetto")),
    Member("be_animatore", BE, "BE", "it:native fr:C1", "it",
        ("animatore per feste di bambini",), ("giochi per bambini", "truccabimbi")),
    # a decoy for illustration, a partial fit (1) for the lighting call
    Member("be_illuminotecnico", BE, "BE", "it:native fr:C1 en:B2", "it",
        ("illuminotecnico",), ("illuminazione teatrale", "puntamento fari")),
    Member("de_illustratorin_busy", DE, "DE", "de:native en:C1", "de",
        ("Kinderbuchillustratorin",), ("Aquarellmalerei", "Bilderbücher"),
        avail=d("2027-06-01", "2027-09-30")),
    # -- web shop (es) ----------------------------------------------------------------------
    Member("de_webentwickler", DE, "DE", "de:native en:C1", "de",
        ("Webentwickler",), ("WordPress-Themes und Plugins", "WooCommerce-Shops", "PHP")),
    Member("se_webbutvecklare", SE, "SE", "sv:native en:C1", "sv",
        ("webbutvecklare",), ("WordPress", "e-handel med WooCommerce", "responsiv design")),
    Member("be_developpeuse_web", BE, "BE", "fr:native en:B2", "fr",
        ("développeuse web",), ("sites WordPress", "boutiques en ligne", "intégration HTML/CSS")),
    Member("be_disenadora_web", BE, "BE", "es:native fr:C1 en:B2", "es",
        ("diseñadora web",), ("diseño de páginas web", "WordPress", "diseño responsive")),
    Member("be_fullstack", BE, "BE", "en:native fr:B1", "en",
        ("full-stack developer",), ("Django", "React", "REST APIs")),
    Member("de_handweberin", DE, "DE", "de:native en:B2", "de",
        ("Handweberin",), ("Weben am Webstuhl", "Gewebe aus Wolle", "Textildesign")),
    Member("at_webentwicklerin", DE, "AT", "de:native", "de",
        ("Webentwicklerin",), ("WordPress", "Onlineshops")),
    # -- Swedish for adult newcomers (sv) ---------------------------------------------------
    Member("se_sfi_larare", SE, "SE", "sv:native en:C1", "sv",
        ("SFI-lärare",), ("svenska för invandrare", "undervisning av vuxna", "kursplanering")),
    Member("se_lehrerin", SE, "SE", "de:native sv:C2 en:C1", "de",
        ("Sprachlehrerin",),
        ("Schwedisch als Zweitsprache unterrichten", "Erwachsenenbildung", "Sprachkurse planen")),
    Member("se_language_teacher", SE, "SE", "en:native sv:C1", "en",
        ("language teacher",), ("teaching English to adults", "adult education", "course design")),
    Member("se_yoga", SE, "SE", "sv:native en:B2", "sv",
        ("yogainstruktör",), ("kursledare i yoga", "kurser för vuxna nybörjare")),
    Member("de_daf_lehrer", DE, "DE", "de:native en:C1", "de",
        ("DaF-Lehrer",), ("Deutsch als Fremdsprache", "Integrationskurse für Erwachsene")),
    # -- lighting for contemporary dance (en) -----------------------------------------------
    Member("be_eclairagiste", BE, "BE", "fr:native en:B2", "fr",
        ("éclairagiste",),
        ("création lumière pour la danse", "régie lumière", "pupitre grandMA2")),
    Member("be_lichtontwerper", BE, "BE", "nl:native en:C1 fr:B2", "nl",
        ("lichtontwerper",),
        ("lichtontwerp voor dans en theater", "grandMA programmeren", "videoprojectie")),
    Member("de_lichtdesignerin", DE, "DE", "de:native en:B2", "de",
        ("Lichtdesignerin",),
        ("Lichtgestaltung für Tanztheater", "Lichtpult-Programmierung (grandMA3)")),
    Member("se_ljusdesigner", SE, "SE", "sv:native en:C1", "sv",
        ("ljusdesigner",), ("ljussättning för dans", "programmering av ljusbord")),
    Member("de_choreografin", DE, "DE", "de:native en:C1", "de",
        ("Choreografin",), ("Choreografie", "zeitgenössischer Tanz", "Tanzpädagogik")),
    Member("be_electricien", BE, "BE", "fr:native en:B1", "fr",
        ("électricien",),
        ("installations électriques", "éclairage de bâtiments", "tableaux électriques")),
    Member("be_lumiere_coop", BE, "BE", "fr:native en:C1", "fr",
        ("éclairagiste",), ("lumière pour la danse contemporaine",), visibility="coop"),
    # -- care for elderly people with dementia (nl) -----------------------------------------
    Member("be_aide_soignante", BE, "BE", "fr:native nl:B2", "fr",
        ("aide-soignante",),
        ("accompagnement des personnes âgées", "maladie d'Alzheimer", "soins à domicile")),
    Member("be_verzorgende", BE, "BE", "nl:native fr:B1", "nl",
        ("verzorgende in de thuiszorg",), ("dementiezorg", "persoonlijke verzorging")),
    Member("be_cuidadora", BE, "BE", "es:native fr:B2", "es",
        ("cuidadora de personas mayores",), ("atención a domicilio", "personas con demencia")),
    Member("be_picked_badante", BE, "BE", "it:native fr:C1", "it",
        (), ("assistenza domiciliare agli anziani",), picked_iris=(HOME_CARE_AIDE,)),
    Member("be_dierenverzorger", BE, "BE", "nl:native en:B1", "nl",
        ("dierenverzorger",), ("verzorging van huisdieren", "hondenuitlaatdienst")),
    Member("de_altenpflegerin", DE, "DE", "de:native en:B2", "de",
        ("Altenpflegerin",), ("Demenzbetreuung", "häusliche Pflege")),
    Member("be_aide_familiale_busy", BE, "BE", "fr:native nl:B1", "fr",
        ("aide familiale",), ("aide aux personnes âgées à domicile",),
        avail=d("2027-09-01", "2027-12-31")),
    # -- renovating an old workshop (fr) ----------------------------------------------------
    Member("be_architect", BE, "BE", "nl:native fr:C1 en:C1", "nl",
        ("architect",), ("renovatie van erfgoed", "stedenbouwkundige vergunningen")),
    Member("be_architetto", BE, "BE", "it:native fr:C1", "it",
        ("architetto",), ("restauro di edifici storici", "progettazione")),
    Member("se_arkitekt", SE, "SE", "sv:native en:C1", "sv",
        ("arkitekt",), ("ombyggnad av äldre hus", "detaljplaner")),
    # the author of the call in this group (never to be suggested for it)
    Member("be_architecte_interieur", BE, "BE", "fr:native nl:B2", "fr",
        ("architecte d'intérieur",), ("aménagement intérieur", "scénographie d'expositions")),
    Member("be_software_architect", BE, "BE", "en:native fr:B2", "en",
        ("software architect",),
        ("cloud architecture", "microservices", "legacy system renovation")),
    # -- a serious game in Unity (de) -------------------------------------------------------
    Member("se_spelutvecklare", SE, "SE", "sv:native en:C1", "sv",
        ("spelutvecklare",), ("Unity och C#", "mobilspel", "speldesign")),
    Member("de_indie_gamedev", DE, "DE", "en:native de:B1", "en",
        ("indie game developer",), ("Unity", "C#", "educational games")),
    Member("be_developpeur_jeux", BE, "BE", "fr:native en:B2", "fr",
        ("développeur de jeux vidéo",), ("Unity", "programmation C#", "serious games")),
    Member("at_picked_games", DE, "AT", "de:native en:C1", "de",
        (), ("Lernspiele",), picked_iris=(GAMES_DEVELOPER, UNITY)),
    Member("de_schauspielerin", DE, "DE", "de:native en:B2", "de",
        ("Schauspielerin",), ("Bühnenspiel", "Improvisationstheater", "Sprechtraining")),
    Member("be_sviluppatore_giochi", BE, "BE", "it:native fr:C1 en:A2", "it",
        ("sviluppatore di videogiochi",), ("Unity", "programmazione C#")),
    # -- cleaning rehearsal rooms (sv) ------------------------------------------------------
    Member("se_lokalvardare", SE, "SE", "sv:native", "sv",
        ("lokalvårdare",), ("kontorsstädning", "fönsterputs")),
    Member("se_limpiadora", SE, "SE", "es:native sv:B1 en:B1", "es",
        ("limpiadora",), ("limpieza de oficinas", "limpieza de cristales")),
    Member("se_gebaudereinigerin", SE, "SE", "de:native sv:B2", "de",
        ("Gebäudereinigerin",), ("Unterhaltsreinigung", "Fensterreinigung")),
    Member("se_stadare_coop", SE, "SE", "sv:native", "sv",
        ("städare",), ("trappstädning", "storstädning"), visibility="coop"),
    Member("be_agent_entretien", BE, "BE", "fr:native en:B1", "fr",
        ("agent d'entretien",), ("nettoyage de bureaux et de salles de spectacle",)),
    Member("se_dataanalytiker", SE, "SE", "sv:native en:C1", "sv",
        ("dataanalytiker",), ("datatvätt", "rensning av data", "Python")),
    Member("be_schoonmaker", BE, "BE", "nl:native fr:C1", "nl",
        ("schoonmaker",), ("kantoren schoonmaken",)),
    # -- qualitative research (en) ----------------------------------------------------------
    Member("se_sociolog", SE, "SE", "sv:native en:C1", "sv",
        ("sociolog",), ("kvalitativa intervjuer", "fältarbete", "enkätstudier")),
    Member("be_sociologue", BE, "BE", "fr:native en:C1", "fr",
        ("sociologue",), ("enquêtes qualitatives", "entretiens semi-directifs", "questionnaires")),
    Member("de_sozialwissenschaftlerin", DE, "DE", "de:native en:C1", "de",
        ("Sozialwissenschaftlerin",), ("qualitative Sozialforschung", "Leitfadeninterviews")),
    Member("be_picked_ricercatrice", BE, "BE", "it:native en:C1 fr:B2", "it",
        (), ("interviste in profondità",), picked_iris=(SOCIOLOGIST, QUALITATIVE_RESEARCH)),
    Member("de_headhunter", DE, "DE", "en:native de:B2", "en",
        ("executive search consultant",),
        ("candidate research", "screening interviews", "headhunting")),
    Member("be_chercheuse_busy", BE, "BE", "fr:native en:C1", "fr",
        ("chercheuse en sciences sociales",), ("entretiens qualitatifs",),
        avail=d("2027-09-01", "2028-06-30")),
    Member("se_forskning_coop", SE, "SE", "sv:native en:C1", "sv",
        ("forskare",), ("kvalitativ forskning", "intervjustudier"), visibility="coop"),
    # -- interpreting es<>de at a festival (es) ---------------------------------------------
    Member("be_interprete", BE, "BE", "es:native de:C2 fr:C1", "es",
        ("intérprete de conferencias",),
        ("interpretación simultánea", "interpretación consecutiva"), pairs="de>es es>de fr>es"),
    Member("de_dolmetscherin", DE, "DE", "de:native es:C2 en:C1", "de",
        ("Dolmetscherin",), ("Simultandolmetschen", "Konferenzdolmetschen"), pairs="es>de de>es"),
    Member("se_tolk", SE, "SE", "sv:native de:C1 es:C1 en:C1", "sv",
        ("tolk",), ("simultantolkning", "konferenstolkning"), pairs="es>sv de>sv es>de"),
    Member("be_interprete_frances", BE, "BE", "es:native fr:C2", "es",
        ("intérprete",), ("interpretación simultánea",), pairs="fr>es es>fr"),
    Member("de_dolmetscher_busy", DE, "DE", "de:native es:C2", "de",
        ("Dolmetscher",), ("Simultandolmetschen",), pairs="es>de de>es",
        avail=d("2027-07-01", "2027-08-31")),
    # -- others (no call is for them) -------------------------------------------------------
    Member("be_bedrijfsadviseur", BE, "BE", "nl:native fr:C1 en:C1", "nl",
        ("bedrijfsadviseur",), ("businessplannen voor coöperaties", "financieel advies")),
)
# fmt: on
