//! Table set-up for local and test runs: creating both tables with their indexes, waiting until
//! they are `ACTIVE`, deleting them. Production tables come from Terraform; the key design is in
//! the crate's README ("Design").

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, IndexStatus, KeySchemaElement, KeyType,
    LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType, TableStatus,
};
use iot_core::StoreError;

use crate::DynamoStore;

use crate::codec::{BY_SENSOR, BY_SENSOR_PROJECTION, BY_START, BY_USER, PK, SK, SSK};
use crate::error::{build_error, sdk_error};
use crate::rollup::{PEND, PENDING};

/// How long [`DynamoStore::create_tables`] waits for tables to become `ACTIVE`.
const TABLE_WAIT: Duration = Duration::from_secs(60);

impl DynamoStore {
    /// Creates both tables (on-demand billing, GSIs included) unless they exist, waits until
    /// they and their indexes are `ACTIVE`, and turns their time to live on (on `expiresAt`,
    /// which only items written with a retention period carry). Idempotent. For local and test
    /// runs: production tables come from Terraform.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` when DynamoDB refuses, or the tables are not active within 60 s.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        let string_attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(build_error)
        };
        let index = |name: &str, hash: &str, range: &str| -> Result<_, StoreError> {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(hash, KeyType::Hash)?)
                .key_schema(key(range, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_error)
        };
        // `by-sensor` projects only what a listing reads, so that clearing a reading's marks does
        // not rewrite its entry; `pending` (sparse, short-lived entries) projects whole items.
        let local_index = |name: &str, range: &str, attributes: Option<&[&str]>| {
            let projection = match attributes {
                Some(attributes) => Projection::builder()
                    .projection_type(ProjectionType::Include)
                    .set_non_key_attributes(Some(
                        attributes.iter().map(|a| (*a).to_string()).collect(),
                    )),
                None => Projection::builder().projection_type(ProjectionType::All),
            };
            LocalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(PK, KeyType::Hash)?)
                .key_schema(key(range, KeyType::Range)?)
                .projection(projection.build())
                .build()
                .map_err(build_error)
        };

        let mut runs = self
            .client
            .create_table()
            .table_name(&self.runs_table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .global_secondary_indexes(index(BY_START, "g1pk", "g1sk")?)
            .global_secondary_indexes(index(BY_USER, "g2pk", "g2sk")?);
        for name in [PK, SK, "g1pk", "g1sk", "g2pk", "g2sk"] {
            runs = runs.attribute_definitions(string_attr(name)?);
        }
        Self::ignore_in_use(runs.send().await, &self.runs_table)?;

        let readings = self
            .client
            .create_table()
            .table_name(&self.readings_table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PK, KeyType::Hash)?)
            .key_schema(key(SK, KeyType::Range)?)
            .local_secondary_indexes(local_index(BY_SENSOR, SSK, Some(&BY_SENSOR_PROJECTION))?)
            .local_secondary_indexes(local_index(PENDING, PEND, None)?)
            .attribute_definitions(string_attr(PK)?)
            .attribute_definitions(string_attr(SK)?)
            .attribute_definitions(string_attr(SSK)?)
            .attribute_definitions(string_attr(PEND)?);
        Self::ignore_in_use(readings.send().await, &self.readings_table)?;

        let deadline = Instant::now() + TABLE_WAIT;
        for table in [&self.runs_table, &self.readings_table] {
            self.wait_active(table, deadline).await?;
            self.enable_time_to_live(table).await?;
        }
        tracing::info!(
            runs = %self.runs_table,
            readings = %self.readings_table,
            "DynamoDB tables ready"
        );
        Ok(())
    }

    fn ignore_in_use<T, E, R>(
        result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
        table: &str,
    ) -> Result<(), StoreError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceInUseException") => Ok(()),
            Err(e) => Err(sdk_error("CreateTable", table, e)),
        }
    }

    async fn wait_active(&self, table: &str, deadline: Instant) -> Result<(), StoreError> {
        loop {
            let described = self
                .client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeTable", table, e))?;
            let active = described.table.as_ref().is_some_and(|t| {
                t.table_status == Some(TableStatus::Active)
                    && t.global_secondary_indexes().iter().all(|i| {
                        i.index_status
                            .as_ref()
                            .is_none_or(|s| *s == IndexStatus::Active)
                    })
            });
            if active {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(StoreError::Unavailable(format!(
                    "DynamoDB table {table} not ACTIVE after {}s",
                    TABLE_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Deletes both tables (test cleanup); a missing table is not an error.
    ///
    /// # Errors
    /// `Unavailable`/`Internal` when DynamoDB refuses.
    pub async fn delete_tables(&self) -> Result<(), StoreError> {
        for table in [&self.runs_table, &self.readings_table] {
            match self.client.delete_table().table_name(table).send().await {
                Ok(_) => {}
                Err(e) if e.code() == Some("ResourceNotFoundException") => {}
                Err(e) => return Err(sdk_error("DeleteTable", table, e)),
            }
        }
        Ok(())
    }
}
