//! The provider's pages as the tests read them: a page's text with the template escapes
//! undone, forms posted with their CSRF token, a browser logged in.

use crate::{Browser, PASSWORD, TestApp, csrf_of, location};

/// A page's text with askama's escapes of quotes and ampersands undone, so tests read French
/// as written.
pub fn text(html: &str) -> String {
    html.replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// A response's status and [`text`].
pub async fn page_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    (status, text(&response.text().await.expect("page body")))
}

/// Asserts that `page` contains `needle`, showing the page when it does not.
#[track_caller]
pub fn assert_shows(page: &str, needle: &str) {
    assert!(
        page.contains(needle),
        "{needle:?} is not on the page: {page}"
    );
}

/// Asserts that `response` redirects to `to`.
#[track_caller]
pub fn assert_redirect(response: &reqwest::Response, to: &str) {
    assert_eq!(location(response).as_deref(), Some(to), "the redirect");
}

/// The `Content-Type` of `response` (empty when absent).
pub fn content_type(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The path and query of the link of a reset (or invitation) e-mail, asserted to be written in
/// full on `app`.
pub fn reset_link_of(app: &TestApp, mail: &crate::ReceivedMail) -> String {
    let start = mail
        .text
        .find("/mot-de-passe-oublie/lien?jeton=")
        .expect("a link");
    let link = mail.text[start..].lines().next().expect("line").trim();
    assert!(mail.text.contains(&app.url(link)), "{}", mail.text);
    link.to_owned()
}

/// The 6-digit code of an e-mail (sign-up, address change): the line that is only the code.
pub fn code_of(mail: &crate::ReceivedMail) -> String {
    mail.text
        .lines()
        .map(str::trim)
        .find(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| panic!("a code in {}", mail.text))
        .to_owned()
}

impl TestApp {
    /// A new browser logged in as `email` with [`PASSWORD`] on the login page: sent home.
    pub async fn log_in(&self, email: &str) -> Browser {
        let browser = self.browser();
        let r = browser.submit_login("/connexion", email, PASSWORD).await;
        assert_eq!(r.status(), 303, "{email} logs in");
        assert_eq!(location(&r).as_deref(), Some("/"), "login of {email}");
        browser
    }
}

impl TestApp {
    /// Whether `email` / `password` opens a session in a fresh browser.
    pub async fn logs_in(&self, email: &str, password: &str) -> bool {
        let response = self
            .browser()
            .submit_login("/connexion", email, password)
            .await;
        response.status() == 303
    }
}

impl Browser {
    /// GET `path`: status and [`text`].
    pub async fn page(&self, path: &str) -> (u16, String) {
        page_of(self.get(path).await).await
    }

    /// The CSRF token of the form on the page at `path`.
    pub async fn csrf_at(&self, path: &str) -> String {
        csrf_of(&self.get(path).await.text().await.expect("page body"))
    }

    /// POSTs `fields` to `action` with the CSRF token read on the page at `form_page`.
    pub async fn post_from(
        &self,
        form_page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let csrf = self.csrf_at(form_page).await;
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post_form(action, &form).await
    }

    /// POSTs `fields` to `action` with a forged CSRF token: asserts it is refused (403).
    pub async fn assert_forged_refused(&self, action: &str, fields: &[(&str, &str)]) {
        let mut form = vec![("csrf", "faux")];
        form.extend_from_slice(fields);
        let status = self.post_form(action, &form).await.status();
        assert_eq!(status, 403, "forged form to {action}");
    }

    /// [`Browser::post_from`] the page at `path` to `path` itself.
    pub async fn post_to(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.post_from(path, path, fields).await
    }

    /// [`Browser::post_from`] the page at `path` (asserted shown) to `action`: status,
    /// location and [`text`] of the answer.
    pub async fn submit(
        &self,
        path: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (u16, Option<String>, String) {
        let (status, html) = self.page(path).await;
        assert_eq!(status, 200, "{path}: {html}");
        let mut form = vec![("csrf", csrf_of(&html))];
        form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = self.post_form(action, &form).await;
        let to = location(&r);
        let (status, body) = page_of(r).await;
        (status, to, body)
    }
}
