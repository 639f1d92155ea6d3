//! The postal letter "Modalités d'accès à l'applicatif CERES" (seed 001), as a one-page A4
//! PDF in the standard Helvetica fonts (WinAnsi encoding: every French letter fits, nothing
//! is embedded).

use jiff::civil::Date;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// What the letter says about one establishment and its code.
pub struct LetterData {
    /// Raison sociale.
    pub establishment: String,
    /// Address lines (street, then postcode and commune).
    pub address_lines: Vec<String>,
    /// SIRET.
    pub siret: String,
    /// The activation code.
    pub code: String,
    /// The portal where the account is created (the provider's URL).
    pub portal_url: String,
    /// Date of the letter.
    pub date: Date,
    /// Last day the code can be used.
    pub expires_on: Date,
    /// The assistance number, as the provider's pages give it (its configuration).
    pub assistance_phone: String,
    /// When the assistance line answers (« du lundi au vendredi de 9h à 18h »).
    pub assistance_hours: String,
}

/// Why the letter could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    /// The text does not fit on one page.
    #[error("le courrier dépasse une page")]
    TooLong,
}

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// "23 novembre 2026", "1er décembre 2026".
pub fn date_in_words(date: Date) -> String {
    let day = if date.day() == 1 {
        "1er".to_owned()
    } else {
        date.day().to_string()
    };
    let month = MONTHS
        .get(usize::try_from(date.month() - 1).unwrap_or(0))
        .copied()
        .unwrap_or_default();
    format!("{day} {month} {}", date.year())
}

/// The WinAnsi bytes of 0x80–0x9F that differ from Latin-1 and that French text uses.
const WIN_ANSI_EXTRAS: [(char, u8); 13] = [
    ('€', 0x80),
    ('‚', 0x82),
    ('„', 0x84),
    ('…', 0x85),
    ('Œ', 0x8C),
    ('‘', 0x91),
    ('’', 0x92),
    ('“', 0x93),
    ('”', 0x94),
    ('–', 0x96),
    ('—', 0x97),
    ('œ', 0x9C),
    ('Ÿ', 0x9F),
];

/// Text in the WinAnsi encoding of the standard fonts; what it cannot show becomes `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| {
            if let Some((_, b)) = WIN_ANSI_EXTRAS.iter().find(|(x, _)| *x == c) {
                return *b;
            }
            match u32::from(c) {
                n @ (0x20..=0x7E | 0xA0..=0xFF) => u8::try_from(n).unwrap_or(b'?'),
                _ => b'?',
            }
        })
        .collect()
}

/// Splits a paragraph into lines of at most `width` characters (Helvetica's letters average
/// about half the font size, so this keeps lines inside the margins).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// One block of the letter.
enum Block {
    Line { text: String, bold: bool },
    Paragraph(String),
    Gap,
}

fn blocks(data: &LetterData) -> Vec<Block> {
    let line = |text: &str, bold: bool| Block::Line {
        text: text.to_owned(),
        bold,
    };
    let mut out = vec![line(&data.establishment, true)];
    out.extend(data.address_lines.iter().map(|l| line(l, false)));
    out.extend([
        Block::Gap,
        Block::Gap,
        line(&format!("Paris, le {}", date_in_words(data.date)), false),
        Block::Gap,
        line("Objet : Modalités d'accès à l'applicatif CERES", true),
        Block::Gap,
        line("Madame, Monsieur,", false),
        Block::Gap,
        Block::Paragraph(
            "Vous avez un agrément pour organiser des sessions d'examen pour l'obtention d'un titre \
             professionnel du ministère chargé de l'emploi."
                .into(),
        ),
        Block::Gap,
        Block::Paragraph(
            "Pour vous connecter à CERES (CERtifications Emplois), l'applicatif qui centralise \
             l'ensemble des processus métiers gérés par les différents acteurs de la politique du \
             titre professionnel du ministère chargé de l'emploi, vous devez créer un compte \
             personnel sur le portail de services EFP Connect :"
                .into(),
        ),
        Block::Gap,
        line(&data.portal_url, true),
        Block::Gap,
        Block::Paragraph(
            "Pour ce faire, vous devez vous munir des éléments suivants de votre dossier :".into(),
        ),
        Block::Gap,
        line(
            &format!("SIRET : {}     Code d'activation : {}", data.siret, data.code),
            true,
        ),
        Block::Gap,
        Block::Paragraph(format!(
            "Ce code d'activation est personnel et à usage unique. Il est valable jusqu'au {}. \
             Une fois connecté, saisissez-le sur la page « Vous n'avez pas accès au \
             service numérique CERES » : vous deviendrez responsable des accès de votre centre \
             pour CERES.",
            date_in_words(data.expires_on)
        )),
        Block::Gap,
        Block::Paragraph(format!(
            "En cas de difficultés pour vous créer un compte, ou si vous estimez que ni votre \
             centre, ni votre siège n'êtes concernés par ce courrier, vous pouvez vous adresser \
             au service d'assistance téléphonique {} au N°Vert {} (service et appel gratuits).",
            data.assistance_hours, data.assistance_phone
        )),
        Block::Gap,
        Block::Paragraph(
            "Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos salutations \
             distinguées."
                .into(),
        ),
    ]);
    out
}

const PAGE_WIDTH_PT: f32 = 595.0;
const PAGE_HEIGHT_PT: f32 = 842.0;
const MARGIN_PT: f32 = 70.0;
const FONT_SIZE_PT: f32 = 11.0;
const LEADING_PT: f32 = 15.0;
const WRAP_CHARS: usize = 85;

/// The letter as PDF bytes.
pub fn render(data: &LetterData) -> Result<Vec<u8>, LetterError> {
    let catalog = Ref::new(1);
    let pages = Ref::new(2);
    let page = Ref::new(3);
    let regular = Ref::new(4);
    let bold = Ref::new(5);
    let contents = Ref::new(6);
    let info = Ref::new(7);
    let (regular_name, bold_name) = (Name(b"F1"), Name(b"F2"));

    let mut content = Content::new();
    let mut y = PAGE_HEIGHT_PT - MARGIN_PT;
    let show = |content: &mut Content, text: &str, is_bold: bool, y: &mut f32| {
        content.begin_text();
        content.set_font(if is_bold { bold_name } else { regular_name }, FONT_SIZE_PT);
        content.next_line(MARGIN_PT, *y);
        content.show(Str(&win_ansi(text)));
        content.end_text();
        *y -= LEADING_PT;
    };
    for block in blocks(data) {
        match block {
            Block::Line { text, bold } => show(&mut content, &text, bold, &mut y),
            Block::Paragraph(text) => {
                for l in wrap(&text, WRAP_CHARS) {
                    show(&mut content, &l, false, &mut y);
                }
            }
            Block::Gap => y -= LEADING_PT / 2.0,
        }
        if y < MARGIN_PT {
            return Err(LetterError::TooLong);
        }
    }

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(pages);
    pdf.pages(pages).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH_PT, PAGE_HEIGHT_PT));
    p.parent(pages);
    p.contents(contents);
    p.resources()
        .fonts()
        .pair(regular_name, regular)
        .pair(bold_name, bold);
    p.finish();
    pdf.type1_font(regular)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.stream(contents, &content.finish());
    pdf.document_info(info)
        .title(pdf_writer::TextStr(
            "Modalités d'accès à l'applicatif CERES",
        ))
        .producer(pdf_writer::TextStr("CERES (démonstration)"));
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    /// Poppler's `pdftotext` (Debian `poppler-utils`, installed by `scripts/test.sh`): a
    /// reader we did not write.
    fn text_of(pdf: &[u8]) -> String {
        use std::io::Write as _;
        let mut child = std::process::Command::new("pdftotext")
            .args(["-layout", "-enc", "UTF-8", "-", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("pdftotext (poppler-utils)");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(pdf)
            .expect("write");
        let out = child.wait_with_output().expect("pdftotext runs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    fn from_win_ansi(bytes: &[u8]) -> String {
        bytes
            .iter()
            .map(|&b| {
                WIN_ANSI_EXTRAS
                    .iter()
                    .find(|(_, x)| *x == b)
                    .map_or(char::from(b), |(c, _)| *c)
            })
            .collect()
    }

    use super::*;

    fn data() -> LetterData {
        LetterData {
            establishment: "CENTRE DE FORMATION DU LAC".into(),
            address_lines: vec!["1 RUE DE LA PAIX".into(), "75002 PARIS".into()],
            siret: "13002526500013".into(),
            code: "KBJ9SLMSN8F7".into(),
            portal_url: "http://localhost:8080".into(),
            date: jiff::civil::date(2026, 11, 23),
            expires_on: jiff::civil::date(2026, 12, 1),
            assistance_phone: "0 805 032 430".into(),
            assistance_hours: "du lundi au vendredi de 9h à 18h".into(),
        }
    }

    #[test]
    fn dates_are_written_in_words() {
        assert_eq!(
            date_in_words(jiff::civil::date(2026, 11, 23)),
            "23 novembre 2026"
        );
        assert_eq!(
            date_in_words(jiff::civil::date(2027, 2, 1)),
            "1er février 2027"
        );
    }

    #[test]
    fn the_letter_reads_back_with_its_siret_code_and_subject() {
        let pdf = render(&data()).expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"));
        // Paragraphs are wrapped: compare without line breaks.
        let text = text_of(&pdf)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        for expected in [
            "Modalités d'accès à l'applicatif CERES",
            "13002526500013",
            "KBJ9SLMSN8F7",
            "Paris, le 23 novembre 2026",
            "CENTRE DE FORMATION DU LAC",
            "75002 PARIS",
            "1er décembre 2026",
            "Madame, Monsieur,",
            "du lundi au vendredi de 9h à 18h au N°Vert 0 805 032 430 (service et appel gratuits)",
            "http://localhost:8080",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from {text}");
        }
    }

    #[test]
    fn win_ansi_keeps_french_letters() {
        assert_eq!(win_ansi("é"), [0xE9]);
        assert_eq!(win_ansi("’œ€"), [0x92, 0x9C, 0x80]);
        assert_eq!(win_ansi("→"), [b'?']);
        assert_eq!(
            from_win_ansi(&win_ansi("Modalités d’accès œuvre")),
            "Modalités d’accès œuvre"
        );
    }
}
