//! The GraphQL types: the part of MLflow's schema the web UI queries, under MLflow's
//! type and field names (graphene's camelCase), wrapping the wire types the REST API
//! answers with.
//!
//! MLflow's GraphQL resolves unset message fields to their defaults, not null (a
//! running run's `endTime` is `"0"`, an absent `nextPageToken` is `""`), so these
//! types do too; values that GraphQL cannot carry (a NaN or infinite metric) are null.

use super::resolvers::{self, RunNode};
use async_graphql::registry::{__DirectiveLocation, MetaDirective, MetaInputValue, Registry};
use async_graphql::{
    Context, CustomDirective, CustomDirectiveFactory, Enum, InputObject, InputValueError,
    InputValueResult, Object, Result, Scalar, ScalarType, SimpleObject, Value,
};
use mlflow_wire::registry::ModelVersion;
use mlflow_wire::tracking::{self as wire, Experiment, KeyValue, RunInfo};
use std::borrow::Cow;
use std::sync::Arc;

/// A 64-bit integer sent as a string, so JavaScript does not round it.
pub struct LongString(pub i64);

/// Long converted to string to prevent truncation to max integer in JavaScript.
#[Scalar(name = "LongString")]
impl ScalarType for LongString {
    fn parse(value: Value) -> InputValueResult<Self> {
        let parsed = match &value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed
            .map(LongString)
            .ok_or_else(|| InputValueError::expected_type(value))
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

fn long(v: Option<i64>) -> LongString {
    LongString(v.unwrap_or(0))
}

fn text(v: &Option<String>) -> Option<&str> {
    Some(v.as_deref().unwrap_or(""))
}

/// A field that failed is null, its error listed, as GraphQL (and MLflow) answer;
/// async-graphql would leave the field out of its object instead.
fn or_null<T>(ctx: &Context<'_>, result: Result<T>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            ctx.add_error(e.into_server_error(ctx.item.pos));
            None
        }
    }
}

/// GraphQL's Float has no NaN or infinities.
fn float(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

// ---------------------------------------------------------------- enums

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MlflowRunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl MlflowRunStatus {
    fn of(s: &str) -> Option<Self> {
        Some(match s {
            "RUNNING" => Self::Running,
            "SCHEDULED" => Self::Scheduled,
            "FINISHED" => Self::Finished,
            "FAILED" => Self::Failed,
            "KILLED" => Self::Killed,
            _ => return None,
        })
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MlflowModelVersionStatus {
    PendingRegistration,
    FailedRegistration,
    Ready,
}

impl MlflowModelVersionStatus {
    fn of(s: &str) -> Option<Self> {
        Some(match s {
            "PENDING_REGISTRATION" => Self::PendingRegistration,
            "FAILED_REGISTRATION" => Self::FailedRegistration,
            "READY" => Self::Ready,
            _ => return None,
        })
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum MlflowViewType {
    ActiveOnly,
    DeletedOnly,
    All,
}

impl MlflowViewType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActiveOnly => "ACTIVE_ONLY",
            Self::DeletedOnly => "DELETED_ONLY",
            Self::All => "ALL",
        }
    }
}

// ---------------------------------------------------------------- inputs

#[derive(InputObject, Default)]
pub struct MlflowGetRunInput {
    pub run_id: Option<String>,
    pub run_uuid: Option<String>,
}

#[derive(InputObject, Default)]
pub struct MlflowGetExperimentInput {
    pub experiment_id: Option<String>,
}

#[derive(InputObject, Default)]
pub struct MlflowSearchRunsInput {
    pub experiment_ids: Option<Vec<Option<String>>>,
    pub filter: Option<String>,
    pub run_view_type: Option<MlflowViewType>,
    pub max_results: Option<i32>,
    pub order_by: Option<Vec<Option<String>>>,
    pub page_token: Option<String>,
}

#[derive(InputObject, Default)]
pub struct MlflowGetMetricHistoryBulkIntervalInput {
    pub run_ids: Option<Vec<Option<String>>>,
    pub metric_key: Option<String>,
    pub start_step: Option<i32>,
    pub end_step: Option<i32>,
    pub max_results: Option<i32>,
}

#[derive(InputObject, Default)]
pub struct MlflowSearchModelVersionsInput {
    pub filter: Option<String>,
    pub max_results: Option<LongString>,
    pub order_by: Option<Vec<Option<String>>>,
    pub page_token: Option<String>,
}

/// A list argument without its null items (a request message cannot hold them).
pub fn strings(v: Option<Vec<Option<String>>>) -> Vec<String> {
    v.unwrap_or_default().into_iter().flatten().collect()
}

// ---------------------------------------------------------------- key/value types

/// MLflow has one key/value type per message; all read a `KeyValue`.
macro_rules! key_value_type {
    ($($name:ident),+) => {$(
        pub struct $name<'a>(pub &'a KeyValue);

        #[Object]
        impl $name<'_> {
            async fn key(&self) -> Option<&str> {
                text(&self.0.key)
            }
            async fn value(&self) -> Option<&str> {
                text(&self.0.value)
            }
        }
    )+};
}

key_value_type!(
    MlflowParam,
    MlflowRunTag,
    MlflowExperimentTag,
    MlflowInputTag,
    MlflowModelVersionTag
);

fn list<'a, T, W>(items: &'a [T], wrap: fn(&'a T) -> W) -> Option<Vec<W>> {
    Some(items.iter().map(wrap).collect())
}

// ---------------------------------------------------------------- runs

pub struct MlflowRunInfo<'a>(pub &'a RunInfo);

#[Object]
impl MlflowRunInfo<'_> {
    async fn run_id(&self) -> Option<&str> {
        Some(&self.0.run_id)
    }
    async fn run_uuid(&self) -> Option<&str> {
        Some(&self.0.run_uuid)
    }
    async fn run_name(&self) -> Option<&str> {
        Some(&self.0.run_name)
    }
    async fn experiment_id(&self) -> Option<&str> {
        Some(&self.0.experiment_id)
    }
    async fn user_id(&self) -> Option<&str> {
        Some(&self.0.user_id)
    }
    async fn status(&self) -> Option<MlflowRunStatus> {
        MlflowRunStatus::of(&self.0.status)
    }
    async fn start_time(&self) -> Option<LongString> {
        Some(long(self.0.start_time))
    }
    async fn end_time(&self) -> Option<LongString> {
        Some(long(self.0.end_time))
    }
    async fn artifact_uri(&self) -> Option<&str> {
        Some(&self.0.artifact_uri)
    }
    async fn lifecycle_stage(&self) -> Option<&str> {
        Some(&self.0.lifecycle_stage)
    }
}

/// A run's metric (its latest value), NaN as null.
pub struct MlflowMetricExtension<'a>(pub &'a wire::Metric);

#[Object]
impl MlflowMetricExtension<'_> {
    async fn key(&self) -> Option<&str> {
        Some(&self.0.key)
    }
    async fn value(&self) -> Option<f64> {
        float(self.0.value)
    }
    async fn timestamp(&self) -> Option<LongString> {
        Some(LongString(self.0.timestamp))
    }
    async fn step(&self) -> Option<LongString> {
        Some(LongString(self.0.step))
    }
    async fn dataset_name(&self) -> Option<&str> {
        text(&self.0.dataset_name)
    }
    async fn dataset_digest(&self) -> Option<&str> {
        text(&self.0.dataset_digest)
    }
    async fn model_id(&self) -> Option<&str> {
        text(&self.0.model_id)
    }
    async fn run_id(&self) -> Option<&str> {
        text(&self.0.run_id)
    }
}

pub struct MlflowRunData<'a>(pub &'a wire::RunData);

#[Object]
impl MlflowRunData<'_> {
    async fn metrics(&self) -> Option<Vec<MlflowMetricExtension<'_>>> {
        list(&self.0.metrics, MlflowMetricExtension)
    }
    async fn params(&self) -> Option<Vec<MlflowParam<'_>>> {
        list(&self.0.params, MlflowParam)
    }
    async fn tags(&self) -> Option<Vec<MlflowRunTag<'_>>> {
        list(&self.0.tags, MlflowRunTag)
    }
}

pub struct MlflowDataset<'a>(pub &'a wire::Dataset);

#[Object]
impl MlflowDataset<'_> {
    async fn name(&self) -> Option<&str> {
        text(&self.0.name)
    }
    async fn digest(&self) -> Option<&str> {
        text(&self.0.digest)
    }
    async fn source_type(&self) -> Option<&str> {
        text(&self.0.source_type)
    }
    async fn source(&self) -> Option<&str> {
        text(&self.0.source)
    }
    async fn schema(&self) -> Option<&str> {
        text(&self.0.schema)
    }
    async fn profile(&self) -> Option<&str> {
        text(&self.0.profile)
    }
}

pub struct MlflowDatasetInput<'a>(pub &'a wire::DatasetInput);

/// The empty dataset an input without one reads as.
static NO_DATASET: wire::Dataset = wire::Dataset {
    name: None,
    digest: None,
    source_type: None,
    source: None,
    schema: None,
    profile: None,
};

#[Object]
impl MlflowDatasetInput<'_> {
    async fn tags(&self) -> Option<Vec<MlflowInputTag<'_>>> {
        list(&self.0.tags, MlflowInputTag)
    }
    async fn dataset(&self) -> Option<MlflowDataset<'_>> {
        Some(MlflowDataset(
            self.0.dataset.as_ref().unwrap_or(&NO_DATASET),
        ))
    }
}

pub struct MlflowModelInput<'a>(pub &'a wire::ModelInput);

#[Object]
impl MlflowModelInput<'_> {
    async fn model_id(&self) -> Option<&str> {
        text(&self.0.model_id)
    }
}

pub struct MlflowRunInputs<'a>(pub &'a wire::RunInputs);

#[Object]
impl MlflowRunInputs<'_> {
    async fn dataset_inputs(&self) -> Option<Vec<MlflowDatasetInput<'_>>> {
        list(&self.0.dataset_inputs, MlflowDatasetInput)
    }
    async fn model_inputs(&self) -> Option<Vec<MlflowModelInput<'_>>> {
        list(&self.0.model_inputs, MlflowModelInput)
    }
}

pub struct MlflowModelOutput<'a>(pub &'a wire::ModelOutput);

#[Object]
impl MlflowModelOutput<'_> {
    async fn model_id(&self) -> Option<&str> {
        text(&self.0.model_id)
    }
    async fn step(&self) -> Option<LongString> {
        Some(long(self.0.step))
    }
}

pub struct MlflowRunOutputs<'a>(pub &'a wire::RunOutputs);

#[Object]
impl MlflowRunOutputs<'_> {
    async fn model_outputs(&self) -> Option<Vec<MlflowModelOutput<'_>>> {
        list(&self.0.model_outputs, MlflowModelOutput)
    }
}

/// A run with the two fields MLflow adds to it: its experiment and the model versions
/// registered from it.
pub struct MlflowRunExtension(pub RunNode);

#[Object]
impl MlflowRunExtension {
    async fn info(&self) -> Option<MlflowRunInfo<'_>> {
        Some(MlflowRunInfo(&self.0.run.info))
    }
    async fn data(&self) -> Option<MlflowRunData<'_>> {
        Some(MlflowRunData(&self.0.run.data))
    }
    async fn inputs(&self) -> Option<MlflowRunInputs<'_>> {
        Some(MlflowRunInputs(&self.0.run.inputs))
    }
    async fn outputs(&self) -> Option<MlflowRunOutputs<'_>> {
        Some(MlflowRunOutputs(&self.0.run.outputs))
    }
    async fn experiment(&self, ctx: &Context<'_>) -> Option<MlflowExperiment> {
        let experiment = resolvers::run_experiment(ctx, &self.0).await;
        or_null(ctx, experiment).map(MlflowExperiment)
    }
    async fn model_versions(&self, ctx: &Context<'_>) -> Option<Vec<MlflowModelVersion>> {
        let versions = resolvers::run_model_versions(ctx, &self.0).await;
        or_null(ctx, versions).map(|v| v.into_iter().map(MlflowModelVersion).collect())
    }
}

// ---------------------------------------------------------------- experiments

pub struct MlflowExperiment(pub Arc<Experiment>);

#[Object]
impl MlflowExperiment {
    async fn experiment_id(&self) -> Option<&str> {
        Some(&self.0.experiment_id)
    }
    async fn name(&self) -> Option<&str> {
        Some(&self.0.name)
    }
    async fn artifact_location(&self) -> Option<&str> {
        Some(&self.0.artifact_location)
    }
    async fn lifecycle_stage(&self) -> Option<&str> {
        Some(&self.0.lifecycle_stage)
    }
    async fn last_update_time(&self) -> Option<LongString> {
        Some(long(self.0.last_update_time))
    }
    async fn creation_time(&self) -> Option<LongString> {
        Some(long(self.0.creation_time))
    }
    async fn tags(&self) -> Option<Vec<MlflowExperimentTag<'_>>> {
        list(&self.0.tags, MlflowExperimentTag)
    }
    /// Trace archival is not kept here: unset, as MLflow answers without it.
    async fn effective_trace_archival_retention(&self) -> Option<&str> {
        Some("")
    }
    /// No workspaces here: unset, as MLflow answers with workspaces off.
    async fn workspace(&self) -> Option<&str> {
        Some("")
    }
}

// ---------------------------------------------------------------- model versions

pub struct MlflowModelVersion(pub ModelVersion);

#[Object]
impl MlflowModelVersion {
    async fn name(&self) -> Option<&str> {
        Some(&self.0.name)
    }
    async fn version(&self) -> Option<&str> {
        Some(&self.0.version)
    }
    async fn creation_timestamp(&self) -> Option<LongString> {
        Some(long(self.0.creation_timestamp))
    }
    async fn last_updated_timestamp(&self) -> Option<LongString> {
        Some(long(self.0.last_updated_timestamp))
    }
    async fn user_id(&self) -> Option<&str> {
        text(&self.0.user_id)
    }
    async fn current_stage(&self) -> Option<&str> {
        text(&self.0.current_stage)
    }
    async fn description(&self) -> Option<&str> {
        text(&self.0.description)
    }
    async fn source(&self) -> Option<&str> {
        text(&self.0.source)
    }
    async fn run_id(&self) -> Option<&str> {
        text(&self.0.run_id)
    }
    async fn status(&self) -> Option<MlflowModelVersionStatus> {
        MlflowModelVersionStatus::of(self.0.status.as_deref().unwrap_or(""))
    }
    async fn status_message(&self) -> Option<&str> {
        text(&self.0.status_message)
    }
    async fn tags(&self) -> Option<Vec<MlflowModelVersionTag<'_>>> {
        list(&self.0.tags, MlflowModelVersionTag)
    }
    async fn run_link(&self) -> Option<&str> {
        text(&self.0.run_link)
    }
    async fn aliases(&self) -> Option<Vec<Option<&str>>> {
        Some(self.0.aliases.iter().map(|a| Some(a.as_str())).collect())
    }
    async fn model_id(&self) -> Option<&str> {
        text(&self.0.model_id)
    }
}

// ---------------------------------------------------------------- responses

/// MLflow's resolvers never fill `apiError` (failures go to `errors`); the type is
/// here so the UI's selections of it validate.
#[derive(SimpleObject)]
pub struct ApiError {
    pub code: Option<String>,
    pub message: Option<String>,
    pub help_url: Option<String>,
    pub trace_id: Option<String>,
    pub error_details: Option<Vec<Option<ErrorDetail>>>,
}

#[derive(SimpleObject)]
pub struct ErrorDetail {
    pub field: Option<String>,
    pub message: Option<String>,
}

pub struct MlflowGetRunResponse(pub RunNode);

#[Object]
impl MlflowGetRunResponse {
    async fn run(&self) -> Option<MlflowRunExtension> {
        Some(MlflowRunExtension(self.0.clone()))
    }
    async fn api_error(&self) -> Option<ApiError> {
        None
    }
}

pub struct MlflowGetExperimentResponse(pub Arc<Experiment>);

#[Object]
impl MlflowGetExperimentResponse {
    async fn experiment(&self) -> Option<MlflowExperiment> {
        Some(MlflowExperiment(self.0.clone()))
    }
    async fn api_error(&self) -> Option<ApiError> {
        None
    }
}

pub struct MlflowSearchRunsResponse {
    pub runs: Vec<RunNode>,
    pub next_page_token: Option<String>,
}

#[Object]
impl MlflowSearchRunsResponse {
    async fn runs(&self) -> Option<Vec<MlflowRunExtension>> {
        Some(self.runs.iter().cloned().map(MlflowRunExtension).collect())
    }
    async fn next_page_token(&self) -> Option<&str> {
        text(&self.next_page_token)
    }
    async fn api_error(&self) -> Option<ApiError> {
        None
    }
}

/// One sampled point of get-history-bulk-interval, NaN as null.
pub struct MlflowMetricWithRunId<'a>(pub &'a wire::Metric);

#[Object]
impl MlflowMetricWithRunId<'_> {
    async fn key(&self) -> Option<&str> {
        Some(&self.0.key)
    }
    async fn value(&self) -> Option<f64> {
        float(self.0.value)
    }
    async fn timestamp(&self) -> Option<LongString> {
        Some(LongString(self.0.timestamp))
    }
    async fn step(&self) -> Option<LongString> {
        Some(LongString(self.0.step))
    }
    async fn run_id(&self) -> Option<&str> {
        text(&self.0.run_id)
    }
}

pub struct MlflowGetMetricHistoryBulkIntervalResponse(pub wire::MetricsResponse);

#[Object]
impl MlflowGetMetricHistoryBulkIntervalResponse {
    async fn metrics(&self) -> Option<Vec<MlflowMetricWithRunId<'_>>> {
        list(&self.0.metrics, MlflowMetricWithRunId)
    }
    async fn api_error(&self) -> Option<ApiError> {
        None
    }
}

pub struct MlflowSearchModelVersionsResponse {
    pub model_versions: Vec<ModelVersion>,
    pub next_page_token: Option<String>,
}

#[Object]
impl MlflowSearchModelVersionsResponse {
    async fn model_versions(&self) -> Option<Vec<MlflowModelVersion>> {
        Some(
            self.model_versions
                .iter()
                .cloned()
                .map(MlflowModelVersion)
                .collect(),
        )
    }
    async fn next_page_token(&self) -> Option<&str> {
        text(&self.next_page_token)
    }
    async fn api_error(&self) -> Option<ApiError> {
        None
    }
}

#[derive(SimpleObject)]
pub struct Test {
    /// Echoes the input string
    pub output: Option<String>,
}

#[derive(SimpleObject)]
pub struct TestMutation {
    /// Echoes the input string
    pub output: Option<String>,
}

// ---------------------------------------------------------------- roots

/// `mlflowSearchRuns` (a query and a mutation alike).
async fn search_runs(
    ctx: &Context<'_>,
    input: Option<MlflowSearchRunsInput>,
) -> Option<MlflowSearchRunsResponse> {
    let input = input.unwrap_or_default();
    let m = wire::SearchRuns {
        experiment_ids: strings(input.experiment_ids),
        filter: input.filter,
        run_view_type: input.run_view_type.map(|v| v.as_str().to_string()),
        max_results: input.max_results.map(i64::from),
        order_by: strings(input.order_by),
        page_token: input.page_token,
    };
    let answer = resolvers::search_runs(ctx, m).await;
    or_null(ctx, answer).map(|(runs, next_page_token)| MlflowSearchRunsResponse {
        runs,
        next_page_token,
    })
}

pub struct Query;

#[Object]
impl Query {
    async fn mlflow_get_experiment(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowGetExperimentInput>,
    ) -> Option<MlflowGetExperimentResponse> {
        let input = input.unwrap_or_default();
        let answer = resolvers::get_experiment(ctx, input.experiment_id).await;
        or_null(ctx, answer).map(MlflowGetExperimentResponse)
    }

    async fn mlflow_get_metric_history_bulk_interval(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowGetMetricHistoryBulkIntervalInput>,
    ) -> Option<MlflowGetMetricHistoryBulkIntervalResponse> {
        let input = input.unwrap_or_default();
        let m = wire::GetMetricHistoryBulkInterval {
            run_ids: strings(input.run_ids),
            metric_key: input.metric_key,
            start_step: input.start_step.map(i64::from),
            end_step: input.end_step.map(i64::from),
            max_results: input.max_results.map(i64::from),
        };
        let answer = resolvers::metric_history_bulk_interval(ctx, m).await;
        or_null(ctx, answer).map(MlflowGetMetricHistoryBulkIntervalResponse)
    }

    async fn mlflow_get_run(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowGetRunInput>,
    ) -> Option<MlflowGetRunResponse> {
        let input = input.unwrap_or_default();
        let m = wire::RunRef {
            run_id: input.run_id,
            run_uuid: input.run_uuid,
        };
        let answer = resolvers::get_run(ctx, m).await;
        or_null(ctx, answer).map(MlflowGetRunResponse)
    }

    async fn mlflow_search_model_versions(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowSearchModelVersionsInput>,
    ) -> Option<MlflowSearchModelVersionsResponse> {
        let input = input.unwrap_or_default();
        let answer = resolvers::search_model_versions(
            ctx,
            input.filter,
            input.max_results.map(|n| n.0),
            strings(input.order_by),
            input.page_token,
        )
        .await;
        or_null(ctx, answer).map(|(model_versions, next_page_token)| {
            MlflowSearchModelVersionsResponse {
                model_versions,
                next_page_token,
            }
        })
    }

    async fn mlflow_search_runs(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowSearchRunsInput>,
    ) -> Option<MlflowSearchRunsResponse> {
        search_runs(ctx, input).await
    }

    /// Simple echoing field
    async fn test(&self, input_string: Option<String>) -> Option<Test> {
        Some(Test {
            output: input_string,
        })
    }
}

/// MLflow declares search-runs as a mutation too (the UI queries it).
pub struct Mutation;

#[Object]
impl Mutation {
    async fn mlflow_search_runs(
        &self,
        ctx: &Context<'_>,
        input: Option<MlflowSearchRunsInput>,
    ) -> Option<MlflowSearchRunsResponse> {
        search_runs(ctx, input).await
    }

    /// Simple echoing field
    async fn test_mutation(&self, input_string: Option<String>) -> Option<TestMutation> {
        Some(TestMutation {
            output: input_string,
        })
    }
}

// ---------------------------------------------------------------- @component

/// `@component(name: String!)` on a query or mutation: a caller's label (the UI names
/// its page), accepted and ignored as MLflow does.
struct ComponentDirective;

/// Never runs: only field directives are executed, and `@component` is not one.
struct Ignored;
impl CustomDirective for Ignored {}

impl CustomDirectiveFactory for ComponentDirective {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed("component")
    }

    fn register(&self, registry: &mut Registry) {
        let mut args = async_graphql::indexmap::IndexMap::new();
        args.insert(
            "name".to_string(),
            MetaInputValue {
                name: "name".into(),
                description: None,
                ty: "String!".into(),
                deprecation: Default::default(),
                default_value: None,
                visible: None,
                inaccessible: false,
                tags: Vec::new(),
                is_secret: false,
                directive_invocations: Vec::new(),
            },
        );
        registry.add_directive(MetaDirective {
            name: "component".into(),
            description: None,
            locations: vec![__DirectiveLocation::QUERY, __DirectiveLocation::MUTATION],
            args,
            is_repeatable: false,
            visible: None,
            composable: None,
        });
    }

    fn create(
        &self,
        _: &async_graphql::ContextDirective<'_>,
        _: &async_graphql::parser::types::Directive,
    ) -> async_graphql::ServerResult<Box<dyn CustomDirective>> {
        Ok(Box::new(Ignored))
    }
}

pub type MlflowSchema = async_graphql::Schema<Query, Mutation, async_graphql::EmptySubscription>;

/// The schema (built per request: a Spin component instance serves one request).
pub fn build() -> MlflowSchema {
    async_graphql::Schema::build(Query, Mutation, async_graphql::EmptySubscription)
        .directive(ComponentDirective)
        .finish()
}
