package transfer.api.problem;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.quarkus.logging.Log;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import java.util.List;
import java.util.stream.Collectors;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;
import transfer.ledger.LedgerException;
import transfer.ledger.Sessions;
import transfer.ledger.Submissions;
import transfer.ledger.TaskControl;

/**
 * Turns every error into {@code application/problem+json}. Bad input must never surface as a 500,
 * so JSON errors are translated here to a 400 naming the field.
 */
public class ProblemMappers {

  /** A refusal of the API's own, with the headers it carries (a quota's Retry-After). */
  @ServerExceptionMapper
  public Response api(ApiException e, UriInfo uri) {
    return e.toResponse(RequestPaths.of(uri));
  }

  @ServerExceptionMapper(priority = 1)
  public Response json(JsonProcessingException e, UriInfo uri) {
    String field = "$";
    String message = "the body is not valid JSON";
    if (e instanceof JsonMappingException m) {
      field = pathOf(m);
      if (e instanceof UnrecognizedPropertyException u) {
        message = "unknown field '" + u.getPropertyName() + "'";
      } else {
        Throwable cause = m.getCause();
        message =
            cause instanceof IllegalArgumentException && cause.getMessage() != null
                ? cause.getMessage()
                : "has the wrong type or format";
      }
    }
    return respond(
        ApiException.invalid(List.of(new Problem.FieldError(field, message)))
            .toProblem(RequestPaths.of(uri)));
  }

  // Quarkus ships mappers for these subtypes that answer plain JSON; the most specific mapper
  // wins, so ours must name them too.
  @ServerExceptionMapper(priority = 1)
  public Response invalidFormat(InvalidFormatException e, UriInfo uri) {
    return json(e, uri);
  }

  @ServerExceptionMapper(priority = 1)
  public Response mismatchedInput(MismatchedInputException e, UriInfo uri) {
    return json(e, uri);
  }

  @ServerExceptionMapper(priority = 1)
  public Response unrecognized(UnrecognizedPropertyException e, UriInfo uri) {
    return json(e, uri);
  }

  @ServerExceptionMapper(priority = 1)
  public Response parse(JsonParseException e, UriInfo uri) {
    return json(e, uri);
  }

  @ServerExceptionMapper
  public Response web(WebApplicationException e, UriInfo uri) {
    Throwable cause = e.getCause();
    if (cause instanceof JsonProcessingException j) {
      return json(j, uri);
    }
    int status = e.getResponse().getStatus();
    Response.StatusType type = Response.Status.fromStatusCode(status);
    String title = type != null ? type.getReasonPhrase() : "Error";
    String detail =
        switch (status) {
          case 404 -> "no such resource: " + RequestPaths.of(uri);
          case 405 -> "this method is not allowed on " + RequestPaths.of(uri);
          case 406 -> "this resource answers application/json only";
          case 415 -> "send the body as application/json";
          default -> e.getMessage();
        };
    String slug = title.toLowerCase().replace(' ', '-');
    return respond(
        new Problem(Problem.typeUri(slug), title, status, detail, RequestPaths.of(uri), null));
  }

  /**
   * A request named something the ledger cannot resolve for this tenant (a resumeData whose
   * checkpoint is gone, an upload source that is no completed download): a bad field, like any
   * other; the ledger's transaction was rolled back, so nothing was stored.
   */
  @ServerExceptionMapper
  public Response invalidReference(Submissions.InvalidReference e, UriInfo uri) {
    return respond(
        ApiException.invalid(List.of(new Problem.FieldError(e.field(), e.getMessage())))
            .toProblem(RequestPaths.of(uri)));
  }

  /** A well-formed request that cannot be carried out as asked: 422 naming the field. */
  @ServerExceptionMapper
  public Response unprocessable(Submissions.Unprocessable e, UriInfo uri) {
    return respond(
        new ApiException(
                422,
                "unprocessable",
                "Unprocessable Content",
                "the request cannot be carried out as asked",
                List.of(new Problem.FieldError(e.field(), e.getMessage())))
            .toProblem(RequestPaths.of(uri)));
  }

  /** The task is final (completed, failed or canceled): the change asked for cannot apply. */
  @ServerExceptionMapper
  public Response stateConflict(TaskControl.StateConflict e, UriInfo uri) {
    return respond(ApiException.conflict(e.getMessage()).toProblem(RequestPaths.of(uri)));
  }

  /**
   * The session was invalidated (or never existed) between the resource's check and the ledger's
   * transaction: nothing was stored.
   */
  @ServerExceptionMapper
  public Response sessionClosed(Sessions.SessionClosed e, UriInfo uri) {
    ApiException answer =
        e.state() == null
            ? ApiException.notFound("the session")
            : ApiException.conflict(e.getMessage());
    return respond(answer.toProblem(RequestPaths.of(uri)));
  }

  /** The database is unreachable or failed: nothing was applied, and a retry may succeed. */
  @ServerExceptionMapper
  public Response ledger(LedgerException e, UriInfo uri) {
    Log.warnf("ledger unavailable answering %s: %s", RequestPaths.of(uri), e.getMessage());
    return Response.status(503)
        .type(Problem.MEDIA_TYPE)
        .header("Retry-After", "5")
        .entity(
            new Problem(
                Problem.typeUri("ledger-unavailable"),
                "Service Unavailable",
                503,
                "the ledger (PostgreSQL) is unavailable; nothing was changed, retry in a few seconds",
                RequestPaths.of(uri),
                null))
        .build();
  }

  @ServerExceptionMapper
  public Response unexpected(Throwable e, UriInfo uri) {
    Log.errorf(
        e, "unexpected error answering %s; the request was not applied", RequestPaths.of(uri));
    return respond(
        new Problem(
            Problem.typeUri("internal-error"),
            "Internal Server Error",
            500,
            "the server failed unexpectedly; the request may be retried",
            RequestPaths.of(uri),
            null));
  }

  private static String pathOf(JsonMappingException m) {
    if (m.getPath().isEmpty()) {
      return "$";
    }
    return m.getPath().stream()
        .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
        .collect(Collectors.joining("."))
        .replace(".[", "[");
  }

  static Response respond(Problem p) {
    return Response.status(p.status()).type(Problem.MEDIA_TYPE).entity(p).build();
  }
}
