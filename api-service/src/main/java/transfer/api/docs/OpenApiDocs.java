package transfer.api.docs;

import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.openapi.OASFactory;
import org.eclipse.microprofile.openapi.OASFilter;
import org.eclipse.microprofile.openapi.models.OpenAPI;
import org.eclipse.microprofile.openapi.models.Operation;
import org.eclipse.microprofile.openapi.models.PathItem;
import org.eclipse.microprofile.openapi.models.media.Content;
import org.eclipse.microprofile.openapi.models.media.Schema;
import org.eclipse.microprofile.openapi.models.parameters.Parameter;
import org.eclipse.microprofile.openapi.models.responses.APIResponse;
import org.eclipse.microprofile.openapi.models.responses.APIResponses;
import org.eclipse.microprofile.openapi.models.security.SecurityScheme;
import transfer.api.ApiConfig;
import transfer.api.auth.ApiKeys;
import transfer.api.task.SubmitService;

/**
 * Completes the generated OpenAPI document ({@code /q/openapi}, Swagger UI at {@code
 * /q/swagger-ui}): what each endpoint does, what each field means and defaults to ({@link
 * SchemaDocs}), and the problem+json errors every endpoint can answer.
 */
public class OpenApiDocs implements OASFilter {
  private static final String PROBLEM = "application/problem+json";

  /** "METHOD path" to a one-line summary. */
  private static final Map<String, String> SUMMARIES =
      Map.ofEntries(
          Map.entry("GET /v1/sessions", "List the tenant's sessions (paged by id)."),
          Map.entry(
              "PUT /v1/sessions/{sid}",
              "Create a session or replace its configuration (idempotent; 201 when new). Makes an"
                  + " invalidated session active again."),
          Map.entry("GET /v1/sessions/{sid}", "Read a session and its configuration."),
          Map.entry(
              "DELETE /v1/sessions/{sid}",
              "Invalidate a session: cancel every open task (invalidateAndCancel), or with"
                  + " finishTasks=true refuse new tasks and let open ones finish"
                  + " (finishTasksAndInvalidate)."),
          Map.entry(
              "POST /v1/sessions/{sid}/tasks",
              "Submit a download or an upload. With an Idempotency-Key the same body answers the"
                  + " same task (Idempotent-Replayed: true); another body with that key is 422."),
          Map.entry(
              "POST /v1/sessions/{sid}/tasks:batch",
              "Submit up to "
                  + SubmitService.MAX_BATCH_TASKS
                  + " tasks in one request, all or none: {\"tasks\":[...]} answers"
                  + " {\"tasks\":[...]} in request order; a bad field is named tasks[i].field. An"
                  + " Idempotency-Key covers the whole batch."),
          Map.entry(
              "GET /v1/sessions/{sid}/tasks",
              "List a session's tasks in creation order (getAllTasks), optionally of some states;"
                  + " page with after=<next>."),
          Map.entry("GET /v1/sessions/{sid}/tasks/{tid}", "Read a task."),
          Map.entry(
              "GET /v1/sessions/{sid}/tasks/{tid}/content",
              "Stream the stored bytes of a completed download (ETag and Repr-Digest carry its"
                  + " SHA-256)."),
          Map.entry(
              "POST /v1/sessions/{sid}/tasks/{tid}/cancel",
              "Cancel an open task; with {\"produceResumeData\":true} a download with stored bytes"
                  + " answers resumeData for a new task to continue from."),
          Map.entry(
              "POST /v1/sessions/{sid}/tasks/{tid}/suspend",
              "Suspend an open task: it holds no worker and no connection until resumed."),
          Map.entry(
              "POST /v1/sessions/{sid}/tasks/{tid}/resume",
              "Resume a suspended task from its checkpoint."),
          Map.entry(
              "GET /v1/sessions/{sid}/events",
              "Replay the session's stored events (CloudEvents) after a sequence number."),
          Map.entry(
              "GET /v1/sessions/{sid}/events/stream",
              "Server-Sent Events: stored events after Last-Event-ID (or ?after), then live ones;"
                  + " id = sequence, event = type, data = the CloudEvent."),
          Map.entry(
              "PUT /v1/sessions/{sid}/objects/{name}",
              "Stage an object for uploads: the body is streamed to storage (never buffered);"
                  + " an optional Repr-Digest is verified."),
          Map.entry("GET /v1/sessions/{sid}/objects/{name}", "Stream a staged object back."),
          Map.entry("DELETE /v1/sessions/{sid}/objects/{name}", "Delete a staged object."),
          Map.entry(
              "POST /v1/admin/tenants",
              "Admin: create a tenant with its first API key (the secret is shown in this answer"
                  + " only) and optional quotas; 409 when the id is taken."),
          Map.entry("GET /v1/admin/tenants", "Admin: list the tenants (paged by id)."),
          Map.entry(
              "GET /v1/admin/tenants/{tenant}",
              "Admin: read a tenant with its key ids (never secrets), quotas and usage."),
          Map.entry(
              "PUT /v1/admin/tenants/{tenant}/quotas",
              "Admin: replace the tenant's own quotas (a null or missing field falls back to the"
                  + " default)."),
          Map.entry(
              "POST /v1/admin/tenants/{tenant}/keys",
              "Admin: make another API key for the tenant (the secret is shown in this answer"
                  + " only)."),
          Map.entry(
              "DELETE /v1/admin/tenants/{tenant}/keys/{keyId}",
              "Admin: revoke a key; it stops working at once on this instance, within "
                  + ApiKeys.CACHE_TTL.toSeconds()
                  + " s on the others."));

  @Override
  public void filterOpenAPI(OpenAPI openAPI) {
    openAPI.info(
        OASFactory.createInfo()
            .title("Background transfer cluster API")
            .version("v1")
            .description(
                "Downloads and uploads done in the background, with progress and completion"
                    + " as CloudEvents on the transfer-events Kafka topic, replay and SSE. Every"
                    + " call carries Authorization: Bearer <api key>; every error is"
                    + " application/problem+json (RFC 9457). Tenants, their keys and quotas are"
                    + " managed under /v1/admin with the admin key."));
    if (openAPI.getComponents() == null) {
      openAPI.components(OASFactory.createComponents());
    }
    openAPI
        .getComponents()
        .addSecurityScheme(
            "apiKey",
            OASFactory.createSecurityScheme()
                .type(SecurityScheme.Type.HTTP)
                .scheme("bearer")
                .description("An API key of the tenant."));
    openAPI
        .getComponents()
        .addSecurityScheme(
            "adminKey",
            OASFactory.createSecurityScheme()
                .type(SecurityScheme.Type.HTTP)
                .scheme("bearer")
                .description(
                    "The admin key (transfer.admin-key); only the /v1/admin operations take it."));
    openAPI.addSecurityRequirement(OASFactory.createSecurityRequirement().addScheme("apiKey"));
    openAPI.getComponents().addSchema("Problem", problemSchema());
    addEventStreamIfMissing(openAPI);
    SchemaDocs.describe(openAPI);
    if (openAPI.getPaths() == null || openAPI.getPaths().getPathItems() == null) {
      return;
    }
    openAPI
        .getPaths()
        .getPathItems()
        .forEach(
            (path, item) ->
                item.getOperations()
                    .forEach(
                        (method, op) -> {
                          String summary = SUMMARIES.get(method + " " + path);
                          // The admin operations' own summaries win over their Javadoc's.
                          if (summary != null
                              && (op.getSummary() == null || path.startsWith("/v1/admin"))) {
                            op.summary(summary);
                          }
                          if (path.startsWith("/v1/admin")) {
                            op.addTag("Admin");
                            op.security(
                                List.of(
                                    OASFactory.createSecurityRequirement().addScheme("adminKey")));
                            addAdminErrors(op, method);
                          } else if (path.startsWith("/v1")) {
                            addErrors(op, method, path);
                          }
                        }));
  }

  private static void addErrors(Operation op, PathItem.HttpMethod method, String path) {
    if (op.getResponses() == null) {
      op.responses(OASFactory.createAPIResponses());
    }
    APIResponses r = op.getResponses();
    add(r, "400", "Bad input: every broken rule is listed in errors[] with its field.");
    add(r, "401", "No valid API key.");
    if (path.contains("{")) {
      add(r, "404", "Not found for this tenant (another tenant's ids answer 404 too).");
    }
    if (method != PathItem.HttpMethod.GET) {
      add(r, "409", "The session or task is in a state that does not allow this.");
    }
    if (method == PathItem.HttpMethod.POST || method == PathItem.HttpMethod.PUT) {
      add(r, "415", "The body must be JSON (application/json).");
    }
    add(
        r,
        "429",
        "A quota of the tenant is exceeded (request-rate; tasks-in-flight at submit; bytes-stored"
            + " at object PUT and download submit): type urn:transfer:problem:quota-exceeded:"
            + "<quota>; retry after the Retry-After header's seconds. Nothing was stored.");
    APIResponse tooMany = r.getAPIResponse("429");
    if (tooMany.getHeaders() == null || !tooMany.getHeaders().containsKey("Retry-After")) {
      tooMany.addHeader(
          "Retry-After",
          OASFactory.createHeader()
              .description(
                  "Seconds to wait: until the next request token (request-rate), or "
                      + ApiConfig.Quota.DEFAULT_RETRY_AFTER_SECONDS
                      + " (transfer.quota.retry-after) for the other quotas.")
              .schema(OASFactory.createSchema().addType(Schema.SchemaType.INTEGER)));
    }
    add(r, "503", "The ledger is unreachable; retry later.");
  }

  private static void addAdminErrors(Operation op, PathItem.HttpMethod method) {
    if (op.getResponses() == null) {
      op.responses(OASFactory.createAPIResponses());
    }
    APIResponses r = op.getResponses();
    add(r, "400", "Bad input: every broken rule is listed in errors[] with its field.");
    add(r, "401", "Not the admin key (tenant keys cannot call the admin API).");
    add(
        r,
        "404",
        "No such tenant or key; every admin path answers 404 when no admin key is configured.");
    if (method == PathItem.HttpMethod.POST) {
      add(r, "409", "A tenant with this id exists already.");
    }
    add(r, "503", "The ledger is unreachable; retry later.");
  }

  private static void add(APIResponses r, String code, String description) {
    if (r.getAPIResponses() != null && r.getAPIResponses().containsKey(code)) {
      return;
    }
    APIResponse resp =
        OASFactory.createAPIResponse()
            .description(description)
            .content(
                OASFactory.createContent()
                    .addMediaType(
                        PROBLEM,
                        OASFactory.createMediaType()
                            .schema(OASFactory.createSchema().ref("Problem"))));
    r.addAPIResponse(code, resp);
  }

  private static Schema problemSchema() {
    Schema fieldError =
        OASFactory.createSchema()
            .addType(Schema.SchemaType.OBJECT)
            .addProperty("field", string("The field (JSON path or header) that broke a rule."))
            .addProperty("message", string("What the rule is."));
    return OASFactory.createSchema()
        .addType(Schema.SchemaType.OBJECT)
        .description("RFC 9457 problem details.")
        .addProperty("type", string("A URI naming the kind of problem."))
        .addProperty("title", string("Short, human-readable summary of the kind."))
        .addProperty("status", OASFactory.createSchema().addType(Schema.SchemaType.INTEGER))
        .addProperty("detail", string("What went wrong this time, and what to do."))
        .addProperty("instance", string("The request path."))
        .addProperty(
            "errors", OASFactory.createSchema().addType(Schema.SchemaType.ARRAY).items(fieldError));
  }

  private static Schema string(String description) {
    return OASFactory.createSchema().addType(Schema.SchemaType.STRING).description(description);
  }

  private static void addEventStreamIfMissing(OpenAPI openAPI) {
    String path = "/v1/sessions/{sid}/events/stream";
    if (openAPI.getPaths() == null) {
      openAPI.paths(OASFactory.createPaths());
    }
    if (openAPI.getPaths().hasPathItem(path)) {
      return;
    }
    Content sse =
        OASFactory.createContent()
            .addMediaType(
                "text/event-stream",
                OASFactory.createMediaType()
                    .schema(
                        OASFactory.createSchema()
                            .addType(Schema.SchemaType.STRING)
                            .description(
                                "Messages with id = sequence, event = type, data = the"
                                    + " CloudEvent JSON; ': keep-alive' comments while idle.")));
    Operation op =
        OASFactory.createOperation()
            .operationId("streamEvents")
            .addTag("Events")
            .parameters(
                List.of(
                    pathParam("sid"),
                    OASFactory.createParameter()
                        .name("after")
                        .in(Parameter.In.QUERY)
                        .description("Start after this sequence (default 0: the oldest kept).")
                        .schema(OASFactory.createSchema().addType(Schema.SchemaType.INTEGER)),
                    OASFactory.createParameter()
                        .name("Last-Event-ID")
                        .in(Parameter.In.HEADER)
                        .description("Reconnect: start after this sequence (wins over after).")
                        .schema(OASFactory.createSchema().addType(Schema.SchemaType.INTEGER))))
            .responses(
                OASFactory.createAPIResponses()
                    .addAPIResponse(
                        "200",
                        OASFactory.createAPIResponse().description("The stream.").content(sse)));
    openAPI.getPaths().addPathItem(path, OASFactory.createPathItem().GET(op));
  }

  private static Parameter pathParam(String name) {
    return OASFactory.createParameter()
        .name(name)
        .in(Parameter.In.PATH)
        .required(true)
        .schema(OASFactory.createSchema().addType(Schema.SchemaType.STRING));
  }
}
