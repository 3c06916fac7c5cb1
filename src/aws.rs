//! What the AWS SDK clients (EC2 for `ebs`, S3 for repositories) share: configuration from the
//! standard chain with zrm's overrides, and errors turned into sentences.

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata};

/// The SDK configuration: the standard chain (environment, profile, instance role), with the
/// region and endpoint overridden when given.
pub async fn sdk_config(region: Option<&str>, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}

/// AWS's error code (empty when the request never got an answer) and a one-line detail.
pub fn error_detail<E>(e: &E) -> (String, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = e.code().unwrap_or("").to_string();
    let detail = match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_string(),
        _ => DisplayErrorContext(e).to_string(),
    };
    (code, detail)
}
