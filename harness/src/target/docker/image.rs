//! Images for container targets: use a local one, or build it from a context
//! directory with the classic builder (there is never a registry to pull from).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use futures::StreamExt;
use testcontainers::bollard::Docker;
use testcontainers::bollard::body_full;
use testcontainers::bollard::query_parameters::BuildImageOptions;

use crate::target::container::{BuildSpec, ImageSource};

/// Makes sure the image of `source` exists and returns its reference.
///
/// An image built here carries `labels`, so it is removed with the target run
/// that built it; an image that was already present is left alone.
pub async fn ensure_image(
    docker: &Docker,
    source: &ImageSource,
    build_tag: &str,
    labels: &HashMap<String, String>,
) -> anyhow::Result<String> {
    match source {
        ImageSource::Build(build) => {
            build_image(docker, build, build_tag, labels).await?;
            Ok(build_tag.to_string())
        }
        ImageSource::Local { reference, build } => {
            if docker.inspect_image(reference).await.is_ok() {
                return Ok(reference.clone());
            }
            let Some(build) = build else {
                bail!(
                    "image \"{reference}\" is not present locally and cannot be pulled; \
                     build it first (see images/README.md) or give the target a `build` table"
                );
            };
            build_image(docker, build, reference, labels).await?;
            Ok(reference.clone())
        }
    }
}

/// Runs the build's `prepare` command, then builds the context under `tag`.
async fn build_image(
    docker: &Docker,
    build: &BuildSpec,
    tag: &str,
    labels: &HashMap<String, String>,
) -> anyhow::Result<()> {
    if let Some(prepare) = &build.prepare {
        run_prepare(prepare, &build.workspace_root).await?;
    }
    let context = build.context.clone();
    let archive = tokio::task::spawn_blocking(move || archive_context(&context))
        .await
        .context("the build context archiver stopped")??;
    tracing::info!(tag, context = %build.context.display(), "building image");

    // The classic builder: engines such as 20.10 may have no BuildKit, and a
    // plain context archive is all these images need.
    let options = BuildImageOptions {
        dockerfile: build.dockerfile.clone(),
        t: Some(tag.to_string()),
        rm: true,
        forcerm: true,
        labels: Some(labels.clone()),
        ..Default::default()
    };
    let mut output = docker.build_image(options, None, Some(body_full(archive.into())));
    let mut last_lines: Vec<String> = Vec::new();
    while let Some(step) = output.next().await {
        let step = step.with_context(|| format!("building image \"{tag}\" failed"))?;
        if let Some(detail) = step.error_detail.and_then(|detail| detail.message) {
            let context = build.context.display();
            bail!(
                "building image \"{tag}\" from \"{context}\" failed: {}",
                detail.trim()
            );
        }
        if let Some(line) = step
            .stream
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            tracing::debug!(tag, line, "build");
            last_lines.push(line.to_string());
        }
    }
    if docker.inspect_image(tag).await.is_err() {
        bail!(
            "building image \"{tag}\" ended without an image; last output: {}",
            last_lines.last().map_or("none", String::as_str)
        );
    }
    Ok(())
}

async fn run_prepare(prepare: &[String], workspace_root: &Path) -> anyhow::Result<()> {
    tracing::info!(command = ?prepare, "preparing a build context");
    let program = crate::target::resolve(workspace_root, &prepare[0]);
    let program = if prepare[0].contains('/') {
        program
    } else {
        prepare[0].clone().into()
    };
    let status = tokio::process::Command::new(&program)
        .args(&prepare[1..])
        .current_dir(workspace_root)
        .status()
        .await
        .with_context(|| format!("cannot run build.prepare \"{}\"", program.display()))?;
    if !status.success() {
        bail!("build.prepare \"{}\" failed ({status})", prepare.join(" "));
    }
    Ok(())
}

/// Packs the context directory into a tar archive, as the build API wants it.
fn archive_context(context: &Path) -> anyhow::Result<Vec<u8>> {
    if !context.is_dir() {
        bail!(
            "build context \"{}\" is not a directory; point `build.context` at one",
            context.display()
        );
    }
    let mut archive = tar::Builder::new(Vec::new());
    archive.follow_symlinks(true);
    // Freshly linked binaries are often sparse files; Docker 20.10 refuses
    // the GNU sparse entries the archiver would otherwise write for them.
    archive.sparse(false);
    archive
        .append_dir_all(".", context)
        .with_context(|| format!("cannot archive build context \"{}\"", context.display()))?;
    archive
        .into_inner()
        .with_context(|| format!("cannot archive build context \"{}\"", context.display()))
}
