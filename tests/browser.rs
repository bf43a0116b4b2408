//! Real-browser tests: headless Chromium driven through chromedriver, against the real server
//! on both databases. Screenshots of each step land in target/screenshots/.

mod common;

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestApp, PASSWORD};
use creditdesk::domain::Role;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// chromedriver in its own process group, so the Chromium it starts goes with it.
struct Driver {
    child: Child,
    port: u16,
    scratch: PathBuf,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) must be installed");
        let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("browser-{port}"));
        std::fs::create_dir_all(scratch.join("downloads")).unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            child,
            port,
            scratch,
        }
    }

    fn downloads(&self) -> PathBuf {
        self.scratch.join("downloads")
    }

    async fn browser(&self, javascript: bool) -> Client {
        let profile = self.scratch.join(if javascript {
            "profile-js"
        } else {
            "profile-nojs"
        });
        let mut prefs = json!({
            "download.default_directory": self.downloads(),
            "download.prompt_for_download": false,
        });
        if !javascript {
            prefs["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": prefs,
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Kill the whole group: chromedriver and every Chromium process it started. The group
        // id is chromedriver's own pid (process_group(0)); never signal anything else.
        let group = self.child.id() as libc::pid_t;
        if group > 1 {
            // SAFETY: kill(2) with a negative pid signals exactly that process group.
            unsafe {
                libc::kill(-group, libc::SIGKILL);
            }
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Runs an async browser test on its own runtime, two minutes at most; the server and the
/// database outlive it.
fn run<F: std::future::Future<Output = ()>>(test: F) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(120), test)
                .await
                .expect("the browser test took over two minutes")
        });
}

/// One WebDriver command, 20 seconds at most, so a stuck browser fails the test instead of
/// hanging it.
async fn bounded<T, E: std::fmt::Debug>(
    what: &str,
    command: impl std::future::Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(Duration::from_secs(20), command).await {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => panic!("{what}: {error:?}"),
        Err(_) => panic!("{what}: no answer from the browser in 20 s"),
    }
}

struct Steps<'a> {
    browser: &'a Client,
    prefix: String,
}

impl Steps<'_> {
    async fn shot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = bounded("screenshot", self.browser.screenshot()).await;
        std::fs::write(dir.join(format!("{}-{name}.png", self.prefix)), png).unwrap();
    }

    async fn js(&self, script: &str) -> Value {
        bounded(script, self.browser.execute(script, vec![])).await
    }

    /// Waits until a JavaScript expression is true (10 s at most).
    async fn until(&self, expression: &str, what: &str) {
        let started = Instant::now();
        loop {
            if self.js(&format!("return !!({expression});")).await == json!(true) {
                return;
            }
            if started.elapsed() > Duration::from_secs(10) {
                self.shot("timeout").await;
                panic!("timed out waiting for {what}: {expression}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        let element = bounded(css, self.browser.find(Locator::Css(css))).await;
        bounded(css, element.text()).await
    }

    async fn click(&self, css: &str) {
        let element = bounded(css, self.browser.find(Locator::Css(css))).await;
        bounded(css, element.click()).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = bounded(css, self.browser.find(Locator::Css(css))).await;
        bounded(css, field.clear()).await;
        bounded(css, field.send_keys(text)).await;
    }

    /// Signs in and lands on the customer list.
    async fn sign_in(&self, base: &str, email: &str) {
        let login = format!("{base}/login?next=%2Fusers");
        bounded("open /login", self.browser.goto(&login)).await;
        self.type_into("#email", email).await;
        self.type_into("#password", PASSWORD).await;
        self.click("form[action='/login'] button[type=submit]")
            .await;
        self.wait_for("table#customers", "signed in").await;
    }

    /// Signs out and waits for the login page, so the next step cannot race the logout.
    async fn sign_out(&self) {
        self.click("form[action='/logout'] button").await;
        self.wait_for("form[action='/login'] #email", "signed out")
            .await;
    }

    /// Waits (20 s at most) for an element; on a timeout the panic says where the browser
    /// is and what the page says, and a screenshot is kept.
    async fn wait_for(&self, css: &str, what: &str) {
        let found = self
            .browser
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await;
        if let Err(error) = found {
            self.shot(&format!("timeout-{}", what.replace(' ', "-")))
                .await;
            let url = bounded("current url", self.browser.current_url()).await;
            let page = self
                .js("return document.querySelector('main, body').innerText.slice(0, 500)")
                .await;
            panic!("{what}: {error:?} waiting for {css} at {url}; the page says {page}");
        }
    }
}

fn backend(app: &TestApp) -> &'static str {
    if app.db.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    }
}

#[test]
fn the_modal_flow_with_javascript() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 120);
    let driver = Driver::start();
    let base = app.address.clone();
    run(async {
        let browser = tokio::time::timeout(Duration::from_secs(30), driver.browser(true))
            .await
            .expect("Chromium started");
        let s = Steps {
            browser: &browser,
            prefix: format!("{}-js", backend(&app)),
        };

        // Sign in and find the customer.
        s.sign_in(&base, "owner@example.com").await;
        s.type_into("#q", "customer1@").await;
        s.click("form[role=search] button").await;
        s.until(&format!("document.querySelectorAll('table#customers a[href=\"/users/{user}\"]').length == 1"), "the search result").await;
        s.shot("01-search").await;
        s.click(&format!("table#customers a[href='/users/{user}']"))
            .await;
        s.click(&format!("nav.tabs a[href='/users/{user}/promo-credits']"))
            .await;
        s.until(
            "document.getElementById('promo-credit-balance')",
            "the Promo Credits tab",
        )
        .await;
        assert_eq!(
            s.js("return document.getElementById('promo-credit-balance').dataset.credits")
                .await,
            json!("120")
        );
        s.shot("02-tab").await;
        s.js("window.noReload = 'still here'; return 0;").await;

        // The modal: focus inside, live preview, note counter.
        s.click("#update-promo-credit-button").await;
        s.until(
            "document.querySelector('#modal form#update-promo-credit')",
            "the modal",
        )
        .await;
        assert_eq!(
            s.js("return document.activeElement.id").await,
            json!("amount"),
            "focus moves into the modal"
        );
        s.type_into("#amount", "170").await;
        s.until("document.getElementById('update-preview').textContent.includes('120 → 170, +50 credits, +50.00 EUR')", "the live preview").await;
        s.type_into("#note", "Goodwill for the late parcel").await;
        s.until(
            "document.getElementById('note-count').textContent == '28 / 250'",
            "the note counter",
        )
        .await;
        s.shot("03-modal-preview").await;
        s.type_into("#amount", "-5").await;
        s.until(
            "document.getElementById('update-preview').textContent.includes('cannot be negative')",
            "a refusal in the preview",
        )
        .await;
        s.type_into("#amount", "170").await;
        s.until(
            "document.getElementById('update-preview').textContent.includes('120 → 170')",
            "the preview again",
        )
        .await;

        // OK: the tab updates in place.
        s.click("#update-promo-credit button[type=submit]").await;
        s.until(
            "document.querySelector('#promo-credits-panel .alert.success')",
            "the confirmation",
        )
        .await;
        assert_eq!(
            s.text("#promo-credits-panel .alert.success").await,
            "Added 50 credits: 120 → 170"
        );
        assert_eq!(
            s.js("return document.getElementById('promo-credit-balance').dataset.credits")
                .await,
            json!("170")
        );
        assert!(s
            .text("table#promo-credit-history tbody tr")
            .await
            .contains("Goodwill for the late parcel"));
        assert_eq!(
            s.js("return window.noReload").await,
            json!("still here"),
            "no page reload"
        );
        assert!(
            s.js("return document.querySelector('#modal [role=dialog]') === null")
                .await
                == json!(true)
        );
        assert_eq!(
            s.js("return document.activeElement.id").await,
            json!("update-promo-credit-button"),
            "focus returns"
        );
        s.shot("04-updated").await;

        // Esc and Cancel close the modal.
        s.click("#update-promo-credit-button").await;
        s.until(
            "document.querySelector('#modal [role=dialog]')",
            "the modal",
        )
        .await;
        let focused = bounded("focused element", browser.active_element()).await;
        bounded("Esc", focused.send_keys("\u{e00c}")).await;
        s.until(
            "document.querySelector('#modal [role=dialog]') === null",
            "Esc to close",
        )
        .await;
        s.click("#update-promo-credit-button").await;
        s.until(
            "document.querySelector('#modal [role=dialog]')",
            "the modal",
        )
        .await;
        s.click("#modal [data-close-modal]").await;
        s.until(
            "document.querySelector('#modal [role=dialog]') === null",
            "Cancel to close",
        )
        .await;

        // A large change asks first; declining changes nothing.
        s.click("#update-promo-credit-button").await;
        s.until(
            "document.querySelector('#modal form#update-promo-credit')",
            "the modal",
        )
        .await;
        s.click("input[name=mode][value=change]").await;
        s.type_into("#amount", "50000").await;
        s.type_into("#note", "Big promotion").await;
        s.until(
            "document.getElementById('update-preview').textContent.includes('Large change')",
            "the large-change warning",
        )
        .await;
        s.shot("05-large-change").await;
        s.click("#update-promo-credit button[type=submit]").await;
        assert!(bounded("alert text", browser.get_alert_text())
            .await
            .contains("170 → 50,170"));
        bounded("dismiss", browser.dismiss_alert()).await;
        assert_eq!(app.account_state(user).0, 170, "declined: nothing changed");
        s.click("#update-promo-credit button[type=submit]").await;
        bounded("accept", browser.accept_alert()).await;
        s.until(
            "document.getElementById('promo-credit-balance').dataset.credits == '50170'",
            "the large change",
        )
        .await;

        // The promo credit list, filtered by the customer's email, and its CSV.
        bounded(
            "open the list",
            browser.goto(&format!("{base}/promo-credits")),
        )
        .await;
        s.type_into("#f-email", "customer1@").await;
        s.click("#promo-credit-filters button[type=submit]").await;
        s.until(
            "location.search.includes('email=customer1')",
            "the filtered list",
        )
        .await;
        s.until(
            "document.querySelectorAll('table#promo-credit-list tbody tr').length == 3",
            "three rows",
        )
        .await;
        s.shot("06-filtered-list").await;
        s.click("#export-csv").await;
        let csv = wait_for_download(&driver.downloads()).await;
        assert!(csv.starts_with("record_id,user_id,external_id,user_email"));
        assert!(
            csv.contains("Goodwill for the late parcel") && csv.contains("customer1@example.com")
        );
        assert_eq!(csv.lines().count(), 4, "header and three rows");

        // Credits that expire: the date in the modal, its preview line, the grant on the tab.
        let today = creditdesk::db::now_utc().date();
        let day = today + time::Duration::days(20);
        let label = creditdesk::domain::expiry_label(day);
        bounded(
            "back to the tab",
            browser.goto(&format!("{base}/users/{user}/promo-credits?currency=EUR")),
        )
        .await;
        s.click("#update-promo-credit-button").await;
        s.until(
            "document.querySelector('#modal form#update-promo-credit')",
            "the modal",
        )
        .await;
        s.click("input[name=mode][value=change]").await;
        s.type_into("#amount", "30").await;
        s.type_into("#note", "Winter campaign").await;
        s.js(&format!(
            "var f = document.getElementById('expires_at'); f.value = '{day}'; \
             f.dispatchEvent(new Event('change', {{bubbles: true}})); return 0;"
        ))
        .await;
        s.until(
            &format!("document.getElementById('update-preview').textContent.includes('+30 credits, expire on {label}')"),
            "the expiry in the preview",
        )
        .await;
        s.shot("07-expiry-preview").await;
        s.click("#update-promo-credit button[type=submit]").await;
        s.until(
            "document.querySelector('#promo-credits-panel .alert.success')",
            "the confirmation",
        )
        .await;
        assert_eq!(
            s.text("#promo-credits-panel .alert.success").await,
            format!("Added 30 credits: 50,170 → 50,200, expiring on {label}")
        );
        assert_eq!(
            s.js("return document.getElementById('expiring-credits').dataset.credits")
                .await,
            json!("30")
        );
        assert_eq!(
            s.js("return document.querySelector('table#promo-credit-grants tbody tr').dataset.expiresAt")
                .await,
            json!(day.to_string()),
            "the grant expiring soonest is spent first, so it is listed first"
        );
        assert!(s
            .text("table#promo-credit-grants tbody tr")
            .await
            .contains(&label));
        s.shot("08-grants").await;

        bounded("close", browser.close()).await;
    });
    app.assert_verified();
}

async fn wait_for_download(dir: &Path) -> String {
    let started = Instant::now();
    loop {
        let done = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "csv"));
        if let Some(path) = done {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                name.starts_with("promo-credits-") && name.ends_with("Z.csv"),
                "{name}"
            );
            return std::fs::read_to_string(path).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no CSV was downloaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn the_same_flow_without_javascript() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 120);
    let driver = Driver::start();
    let base = app.address.clone();
    run(async {
        let browser = tokio::time::timeout(Duration::from_secs(30), driver.browser(false))
            .await
            .expect("Chromium started");
        let s = Steps {
            browser: &browser,
            prefix: format!("{}-nojs", backend(&app)),
        };
        s.sign_in(&base, "billing_admin@example.com").await;
        bounded(
            "open the tab",
            browser.goto(&format!("{base}/users/{user}/promo-credits")),
        )
        .await;
        s.click("#update-promo-credit-button").await;
        s.until(
            &format!("location.pathname == '/users/{user}/promo-credits/update'"),
            "the form as a page",
        )
        .await;
        s.shot("01-form-page").await;

        // A bad amount comes back with the message beside the field.
        s.type_into("#amount", "1.5").await;
        s.type_into("#note", "Typo first").await;
        s.click("#update-promo-credit button[type=submit]").await;
        s.until("document.getElementById('amount-error')", "the field error")
            .await;
        assert_eq!(
            s.js("return document.getElementById('amount').value").await,
            json!("1.5")
        );
        s.shot("02-field-error").await;

        s.type_into("#amount", "170").await;
        s.click("#update-promo-credit button[type=submit]").await;
        s.until(
            "document.querySelector('#promo-credits-panel .alert.success')",
            "the tab after the redirect",
        )
        .await;
        assert_eq!(
            s.text("#promo-credits-panel .alert.success").await,
            "Added 50 credits: 120 → 170"
        );
        assert!(s
            .text("table#promo-credit-history tbody tr")
            .await
            .contains("Typo first"));
        s.shot("03-updated").await;
        bounded("close", browser.close()).await;
    });
    assert_eq!(app.account_state(user), (170, 2, 2));
}

#[test]
fn support_sees_no_update_button_and_a_forged_post_is_refused() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 120);
    let driver = Driver::start();
    let base = app.address.clone();
    run(async {
        let browser = tokio::time::timeout(Duration::from_secs(30), driver.browser(true))
            .await
            .expect("Chromium started");
        let s = Steps {
            browser: &browser,
            prefix: format!("{}-support", backend(&app)),
        };
        s.sign_in(&base, &format!("{}@example.com", Role::Support.as_str()))
            .await;
        bounded(
            "open the tab",
            browser.goto(&format!("{base}/users/{user}/promo-credits")),
        )
        .await;
        s.until("document.getElementById('promo-credit-balance')", "the tab")
            .await;
        assert_eq!(
            s.js("return document.getElementById('update-promo-credit-button')")
                .await,
            Value::Null
        );
        let status = bounded(
            "forged POST",
            browser.execute_async(
                &format!(
                    "const done = arguments[0];
                     const token = document.querySelector('meta[name=csrf-token]').content;
                     fetch('/users/{user}/promo-credits', {{method: 'POST',
                       headers: {{'Content-Type': 'application/x-www-form-urlencoded'}},
                       body: new URLSearchParams({{csrf_token: token, currency: 'EUR', mode: 'change', amount: '5', note: 'forged'}})}})
                       .then(r => r.text().then(t => done([r.status, t.includes('This needs the Owner or Billing admin role.')])));"
                ),
                vec![],
            )
        )
        .await;
        assert_eq!(status, json!([403, true]));
        s.shot("01-tab-read-only").await;
        bounded("close", browser.close()).await;
    });
    assert_eq!(app.account_state(user), (120, 1, 1));
}

#[test]
fn an_owner_sets_up_usd_a_billing_admin_uses_it_support_reads_it() {
    let app = TestApp::spawn();
    let user = app.customer_with(1, 0);
    let driver = Driver::start();
    let base = app.address.clone();
    run(async {
        let browser = tokio::time::timeout(Duration::from_secs(30), driver.browser(true))
            .await
            .expect("Chromium started");
        let s = Steps {
            browser: &browser,
            prefix: format!("{}-settings", backend(&app)),
        };

        // The owner adds USD at 0.50 a credit, seeing what the rate means before saving.
        s.sign_in(&base, "owner@example.com").await;
        bounded(
            "settings",
            browser.goto(&format!("{base}/settings/promo-credit")),
        )
        .await;
        s.js("document.getElementById('add-currency').value = 'USD'; return true;")
            .await;
        s.click("form.add-currency button[type=submit]").await;
        s.until(
            "document.getElementById('promo-credit-config')",
            "the USD form",
        )
        .await;
        s.type_into("#exchange_rate", "0.50").await;
        s.until(
            "document.getElementById('rate-preview').textContent.includes('0.50 USD')",
            "the live rate preview",
        )
        .await;
        s.shot("01-usd-settings").await;
        s.click("#promo-credit-config button.primary").await;
        s.until("document.querySelector('.alert.success')", "saved")
            .await;
        assert!(s.text(".alert.success").await.contains("saved"));
        s.sign_out().await;

        // A billing admin gives the customer 40 credits in USD.
        s.sign_in(&base, "billing_admin@example.com").await;
        let tab = format!("{base}/users/{user}/promo-credits?currency=USD");
        bounded("the USD tab", browser.goto(&tab)).await;
        s.click("#update-promo-credit-button").await;
        s.until(
            "document.querySelector('#modal form#update-promo-credit')",
            "the modal",
        )
        .await;
        s.type_into("#amount", "40").await;
        s.type_into("#note", "Welcome credit in dollars").await;
        s.click("#update-promo-credit button[type=submit]").await;
        s.until(
            "document.querySelector('#promo-credits-panel .alert.success')",
            "the change",
        )
        .await;
        assert_eq!(
            s.text("#promo-credits-panel .alert.success").await,
            "Added 40 credits: 0 → 40"
        );
        s.sign_out().await;

        // Support sees it, worth 20.00 USD, and has no Update button.
        s.sign_in(&base, "support@example.com").await;
        bounded("the USD tab", browser.goto(&tab)).await;
        s.until("document.getElementById('promo-credit-balance')", "the tab")
            .await;
        assert_eq!(
            s.js("return document.getElementById('promo-credit-balance').dataset.credits")
                .await,
            json!("40")
        );
        assert!(s
            .text("#promo-credits-panel .balance-grid")
            .await
            .contains("20.00 USD"));
        assert_eq!(
            s.js("return document.getElementById('update-promo-credit-button')")
                .await,
            Value::Null
        );
        bounded("the dashboard", browser.goto(&format!("{base}/"))).await;
        s.until(
            "document.querySelector('table#liability tr[data-currency=USD]')",
            "the dashboard",
        )
        .await;
        assert_eq!(
            s.js("return document.querySelector('tr[data-currency=USD]').dataset.outstanding")
                .await,
            json!("40")
        );
        s.shot("02-dashboard").await;
        bounded("close", browser.close()).await;
    });
}

#[test]
fn a_fresh_install_opens_on_the_first_run_guide() {
    let app = TestApp::spawn_bare();
    let driver = Driver::start();
    let base = app.address.clone();
    run(async {
        let browser = tokio::time::timeout(Duration::from_secs(30), driver.browser(true))
            .await
            .expect("Chromium started");
        let s = Steps {
            browser: &browser,
            prefix: format!("{}-first-run", backend(&app)),
        };
        bounded("open /login", browser.goto(&format!("{base}/login"))).await;
        s.type_into("#email", "owner@example.com").await;
        s.type_into("#password", PASSWORD).await;
        s.click("form[action='/login'] button[type=submit]").await;
        s.until("document.querySelector('.first-run')", "the guide")
            .await;
        s.shot("01-guide").await;
        s.click("form.demo button[type=submit]").await;
        s.until(
            "document.querySelector('table#liability')",
            "the dashboard with demo data",
        )
        .await;
        s.shot("02-demo-dashboard").await;
        bounded("close", browser.close()).await;
    });
}

#[test]
fn an_owner_checks_a_customer_file_then_applies_it_skipping_a_refused_row() {
    let app = TestApp::spawn();
    let driver = Driver::start();
    let base = app.address.clone();
    let file = std::env::temp_dir().join(format!(
        "creditdesk-browser-import-{}-{}.csv",
        backend(&app),
        std::process::id()
    ));
    std::fs::write(
        &file,
        "external_id;email;first_name;credits_EUR\r\n\
         crm-1;ann@example.com;Ann;250\r\n\
         crm-2;broken;Bob;5\r\n\
         crm-3;carla@example.com;Carla;\r\n",
    )
    .unwrap();
    let path = file.to_str().unwrap().to_owned();
    run(async {
        let browser = tokio::time::timeout(Duration::from_secs(30), driver.browser(true))
            .await
            .expect("Chromium started");
        let s = Steps {
            browser: &browser,
            prefix: format!("{}-import", backend(&app)),
        };
        s.sign_in(&base, "owner@example.com").await;
        s.click("a[href='/users/import']").await;
        s.wait_for("#import-upload", "the upload form").await;
        // WebDriver types a path into a file input: the browser uploads that file.
        let input = bounded("file", browser.find(Locator::Css("#import-file"))).await;
        bounded("file", input.send_keys(&path)).await;
        s.click("#import-upload button[type=submit]").await;
        s.wait_for("#import[data-status='checked']", "the dry run")
            .await;
        assert_eq!(s.text("#count-create .value").await, "2");
        assert_eq!(s.text("#count-refused .value").await, "1");
        assert!(s
            .text("tr[data-line='3']")
            .await
            .contains("Enter an email address"));
        s.shot("01-checked").await;

        // Without skipping, nothing is applied and the page says why.
        s.click("#import-apply button[type=submit]").await;
        s.wait_for("[role=alert]", "the refusal").await;
        assert!(s.text("[role=alert]").await.contains("1 row is refused"));
        s.click("#skip-refused").await;
        s.click("#import-apply button[type=submit]").await;
        s.wait_for("#import[data-status='applied']", "the import applied")
            .await;
        assert!(s.text(".alert.success").await.contains(
            "2 created, 0 updated, 0 unchanged; 1 opening balance posted; 1 refused row skipped"
        ));
        s.shot("02-applied").await;
        bounded("close", browser.close()).await;
    });
    std::fs::remove_file(&file).unwrap();
    app.assert_verified();
}
