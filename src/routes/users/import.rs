//! `/users/import`: check a customer file (the dry run), look at its plan, apply it in the
//! background and follow its progress (docs/import.md). Owner only.

use actix_multipart::form::MultipartForm;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::domain::Permission;
use crate::error::AppError;
use crate::filters::from_query;
use crate::filters::import::{ImportView, RawImportView};
use crate::forms::import::{ImportCommand, ImportFields};
use crate::import::{self, CustomerFile, ImportError, Importer};
use crate::ledger::Actor;
use crate::startup::AppState;
use crate::store::imports;
use crate::views::import::{ImportPage, ROWS_PER_PAGE};
use crate::views::Layout;
use crate::web::{html, ok, see_other, with_conn};

/// How many recent imports the upload page lists.
const RECENT: i64 = 20;

pub async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    let raw: RawImportView = from_query(request.query_string())?;
    let view = raw
        .parse()
        .map_err(|errors| AppError::Unprocessable(errors.sentence()))?;
    ok(&page(&state, &admin, &view).await?)
}

/// The upload form with the recent imports, or import `view.id` with a page of its rows.
async fn page(
    state: &AppState,
    admin: &CurrentAdmin,
    view: &ImportView,
) -> Result<ImportPage, AppError> {
    let blank = ImportPage::new(
        Layout::new(admin, "customers"),
        state.settings.import_max_bytes,
    );
    let Some(id) = view.id else {
        let recent = with_conn(&state.pool, |conn| Ok(imports::recent(conn, RECENT)?)).await?;
        return Ok(blank.with_recent(&recent));
    };
    // Progress first: a job that ends after this has committed before the read below.
    let progress = state.imports.progress(id);
    let (outcome, after) = (view.outcome, view.after);
    let (import, rows) = with_conn(&state.pool, move |conn| {
        let import = imports::find(conn, id)?;
        Ok((
            import,
            imports::rows(conn, id, outcome, after, ROWS_PER_PAGE)?,
        ))
    })
    .await?;
    let import = import.ok_or_else(|| AppError::not_found("This import"))?;
    Ok(blank.with_current(&import, view, rows, progress))
}

pub async fn submit(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    // Read only once the role allows it.
    let MultipartForm(fields) =
        MultipartForm::<ImportFields>::from_request(&request, &mut payload.into_inner())
            .await
            .map_err(|error| {
                AppError::Unprocessable(format!("The upload could not be read ({error})."))
            })?;
    let importer = Importer {
        actor: Actor::Admin(admin.admin_id),
        audit: admin.audit.clone(),
    };
    let (started, shown) = match fields.parse() {
        Ok(ImportCommand::Check { file_name, bytes }) => {
            (check(&state, importer, &file_name, &bytes).await?, None)
        }
        Ok(ImportCommand::Apply { id, skip_refused }) => (
            start_apply(&state, importer, id, skip_refused).await?,
            Some(id),
        ),
        Err(errors) => (Err(errors.sentence()), None),
    };
    match started {
        Ok(id) => Ok(see_other(&format!("/users/import?id={id}"))),
        Err(message) => {
            let view = ImportView {
                id: shown,
                ..ImportView::default()
            };
            let mut page = page(&state, &admin, &view).await?;
            page.error = Some(message);
            html(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
    }
}

/// Reads, plans and keeps the file: the import's id, or why the file was refused.
async fn check(
    state: &AppState,
    importer: Importer,
    file_name: &str,
    bytes: &[u8],
) -> Result<Result<i64, String>, AppError> {
    let file = match CustomerFile::read(file_name, bytes, state.settings.import_max_bytes) {
        Ok(file) => file,
        Err(error) => return Ok(Err(error.to_string())),
    };
    with_conn(&state.pool, move |conn| {
        match import::check(conn, &file, &importer) {
            Ok((id, _)) => Ok(Ok(id)),
            Err(ImportError::Database(error)) => Err(error.into()),
            Err(other) => Ok(Err(other.to_string())),
        }
    })
    .await
}

/// Starts applying import `id` in the background, unless it cannot be applied as asked.
async fn start_apply(
    state: &AppState,
    importer: Importer,
    id: i64,
    skip_refused: bool,
) -> Result<Result<i64, String>, AppError> {
    let import = with_conn(&state.pool, move |conn| Ok(imports::find(conn, id)?))
        .await?
        .ok_or_else(|| AppError::not_found("This import"))?;
    if import.status != "checked" {
        return Ok(Ok(id));
    }
    if import.planned_refused > 0 && !skip_refused {
        return Ok(Err(
            ImportError::RefusedRows(import.planned_refused).to_string()
        ));
    }
    let steps = import::steps(
        import.row_count,
        import.planned_refused,
        import.planned_openings,
    );
    let Some(running) = state.imports.start(id, steps) else {
        return Ok(Ok(id));
    };
    let pool = state.pool.clone();
    actix_web::rt::spawn(web::block(move || {
        let applied = pool
            .get()
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| {
                let mut progress = |done| running.progress.set(done);
                Ok(import::apply(
                    &mut conn,
                    id,
                    skip_refused,
                    &importer,
                    &mut progress,
                )?)
            });
        if let Err(error) = applied {
            tracing::warn!(import = id, %error, "import not applied");
        }
    }));
    Ok(Ok(id))
}
