//! `dev-branches/...` and the branch metadata (`branch/{branch}/metadata`, which the path
//! normalisation serves as `/v2/storage/metadata` with the branch remembered).

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use stowage_core::branches;
use stowage_types::auth::{AnyToken, WriteProjectMetadata};
use stowage_types::Code;

use crate::auth::{BranchRef, Caller};
use crate::error::{ApiError, ApiResult};
use crate::input::{Input, Page, Params};
use crate::openapi::Op;
use crate::routes::metadata::MetadataInput;
use crate::routes::numeric_id;
use crate::views::{BranchView, MetadataView};
use crate::{views, AppState, Table};

pub(crate) fn register(t: Table) -> Table {
    t.add(Method::GET, "/v2/storage/dev-branches", list_branches, Op::list::<BranchView>("List branches"))
        .add(Method::GET, "/v2/storage/dev-branches/{id}", get_branch, Op::ok::<BranchView>("Branch detail"))
        .add(
            Method::GET,
            "/v2/storage/metadata",
            list_branch_metadata,
            Op::list::<MetadataView>("The branch's metadata"),
        )
        .add(
            Method::POST,
            "/v2/storage/metadata",
            create_branch_metadata,
            Op::created_list::<MetadataView>("Set branch metadata (answers all of it)"),
        )
        .add(
            Method::DELETE,
            "/v2/storage/metadata/{id}",
            delete_branch_metadata,
            Op::empty("Delete a branch metadata entry"),
        )
}

fn branch_of(branch: Option<Extension<BranchRef>>) -> String {
    branch.map(|Extension(BranchRef(b))| b).unwrap_or_else(|| "default".into())
}

async fn list_branches(caller: Caller, Params(page): Params<Page>) -> ApiResult<Json<Vec<BranchView>>> {
    let grant = caller.token.authorize(AnyToken)?;
    let branches = page.of(branches::list(&caller.ctx, &grant).await?)?;
    Ok(Json(branches.iter().map(views::branch).collect()))
}

async fn get_branch(caller: Caller, Path(id): Path<String>) -> ApiResult<Json<BranchView>> {
    let grant = caller.token.authorize(AnyToken)?;
    let branch = branches::get(&caller.ctx, &grant, &id).await?;
    Ok(Json(views::branch(&branch)))
}

async fn list_branch_metadata(
    caller: Caller,
    branch: Option<Extension<BranchRef>>,
    Params(page): Params<Page>,
) -> ApiResult<Json<Vec<MetadataView>>> {
    let grant = caller.token.authorize(AnyToken)?;
    let entries = page.of(branches::metadata(&caller.ctx, &grant, &branch_of(branch)).await?)?;
    Ok(Json(entries.iter().map(views::branch_metadata_entry).collect()))
}

async fn create_branch_metadata(
    caller: Caller,
    branch: Option<Extension<BranchRef>>,
    Input(body): Input<MetadataInput>,
) -> ApiResult<Response> {
    let entries = body.entries()?.ok_or_else(|| {
        ApiError::new(Code::MetadataValidation, "Invalid data - metadata: expected a list of {key, value} objects.")
    })?;
    let grant = caller.token.authorize(WriteProjectMetadata)?;
    let all = branches::set_metadata(&caller.ctx, &grant, &branch_of(branch), entries).await?;
    let body: Vec<MetadataView> = all.iter().map(views::branch_metadata_entry).collect();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn delete_branch_metadata(
    State(_state): State<AppState>,
    caller: Caller,
    branch: Option<Extension<BranchRef>>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = numeric_id(&id)?;
    let grant = caller.token.authorize(WriteProjectMetadata)?;
    branches::delete_metadata(&caller.ctx, &grant, &branch_of(branch), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
