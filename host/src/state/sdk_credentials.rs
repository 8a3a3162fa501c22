//! The state's S3 client asks the same credentials chain as the sandbox's signer
//! ([`crate::credentials`]): `object_store` calls [`SdkCredentials`] before each request, and
//! the chain answers from its cache until the credentials near their expiry.
//!
//! Invariant: a failure to find credentials is the request's error, naming where they are
//! looked for; nothing is cached from a failed ask (the next request asks again).

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use object_store::CredentialProvider;
use object_store::aws::AwsCredential;
use std::sync::Arc;

/// `object_store`'s view of the AWS SDK's credentials chain.
#[derive(Debug)]
pub struct SdkCredentials(pub SharedCredentialsProvider);

#[async_trait::async_trait]
impl CredentialProvider for SdkCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let found =
            self.0
                .provide_credentials()
                .await
                .map_err(|e| object_store::Error::Generic {
                    store: "S3",
                    source: format!(
                        "no AWS credentials for the state: {}",
                        crate::text::escape(&format!("{:#}", anyhow::Error::from(e)))
                    )
                    .into(),
                })?;
        Ok(Arc::new(AwsCredential {
            key_id: found.access_key_id().to_string(),
            secret_key: found.secret_access_key().to_string(),
            token: found.session_token().map(String::from),
        }))
    }
}
