//! `POST /chat`: one chat turn. The API runs the agent (and changes tasks through its
//! tools); this handler remembers the conversation and redirects back to the page with it
//! open, where the reply, the tool calls and the updated task list are rendered.
//!
//! `POST /chat/stream`: the same turn for the page's script, which shows the reply as it is
//! written: the API's event stream relayed as server-sent events, each tool call rendered
//! here as the page renders it. Anything refused before the turn starts is answered without
//! a stream, and the script then posts the form as it would without JavaScript, so every
//! error is explained in one place ([`send`]).
//!
//! Each message carries a client id (the form's hidden `client_message_id`, else one made
//! here), so the API answers a resubmission with the stored answer instead of running the
//! turn, and its tools, again. When no answer comes back in time the page says the message
//! may still be processing, never that it was not sent.

use super::tasks::{Carry, ListState, render, user_zone, with_conversation};
use super::{AppState, SignedIn, failed};
use crate::api::{ApiFailure, ChatEvent, ChatEvents, ChatFailure};
use crate::forms::{ChatInput, Form};
use crate::session::{self, Session, see_other};
use crate::views::{FieldErrors, ToolItem, ToolView};
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use time::OffsetDateTime;
use todo_wire::UserZone;
use uuid::Uuid;

pub use todo_wire::chat::MESSAGE_MAX;

/// The chat form as this handler reads it.
struct Message {
    state: ListState,
    text: String,
    conversation: Option<Uuid>,
    client_message_id: Uuid,
}

impl Message {
    fn read(form: &ChatInput) -> Message {
        Message {
            state: ListState::parse(&form.back),
            text: form.message.trim().to_owned(),
            conversation: Uuid::parse_str(form.conversation_id.trim()).ok(),
            client_message_id: Uuid::parse_str(form.client_message_id.trim())
                .unwrap_or_else(|_| Uuid::new_v4()),
        }
    }

    /// Checked here too, so an empty or oversized message is answered without a round trip.
    fn problem(&self) -> Option<String> {
        if self.text.is_empty() {
            Some("Type a message first.".to_owned())
        } else if self.text.chars().count() > MESSAGE_MAX {
            Some(format!("Message must be at most {MESSAGE_MAX} characters."))
        } else {
            None
        }
    }

    /// The page with the conversation open.
    fn page(&self, conversation: Uuid) -> String {
        with_conversation(&self.state, &conversation.to_string()).url()
    }
}

pub async fn send(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Form(form): Form<ChatInput>,
) -> Response {
    let m = Message::read(&form);
    let token = token.as_str();
    let refused = match m.problem() {
        Some(problem) => Refused {
            errors: FieldErrors {
                message: Some(problem),
                ..FieldErrors::default()
            },
            retry: false,
            status: StatusCode::UNPROCESSABLE_ENTITY,
        },
        None => match app
            .api
            .chat(token, m.conversation, &m.text, m.client_message_id)
            .await
        {
            Ok(reply) => {
                if let Some(e) = &reply.error {
                    tracing::warn!(error = %e, "chat turn answered with an error");
                }
                let mut r = see_other(&format!("{}#chat-panel", m.page(reply.conversation_id)));
                r.headers_mut().append(
                    header::SET_COOKIE,
                    remember(&session, reply.conversation_id),
                );
                return r;
            }
            Err(failure) => match Refused::from(failure, m.client_message_id) {
                Ok(refused) => refused,
                Err(other) => return failed(&session, other, &m.state.url()),
            },
        },
    };
    // The page again with the message kept and the error next to it; a retry of the same
    // message keeps its client id (answered once).
    let carry = Carry {
        chat_message: Some(m.text.clone()),
        chat_errors: refused.errors,
        chat_client_id: refused.retry.then_some(m.client_message_id),
        ..Carry::default()
    };
    render(&app, &session, token, &m.state, carry, refused.status).await
}

/// The conversation cookie: the chat panel reopens it on the next visit.
fn remember(session: &Session, conversation: Uuid) -> HeaderValue {
    session.cookie(
        session::CONVERSATION,
        &conversation.to_string(),
        Some(30 * 24 * 3600),
    )
}

/// Why the chat form is shown again: the errors, whether sending it again is a retry of the
/// same message, and the status.
struct Refused {
    errors: FieldErrors,
    retry: bool,
    status: StatusCode,
}

impl Refused {
    /// What to show for a failed turn; `Err` for what only the general failure page answers.
    fn from(failure: ChatFailure, client_message_id: Uuid) -> Result<Refused, ApiFailure> {
        let (errors, retry, status) = match failure {
            ChatFailure::NoAnswer(why) => {
                tracing::warn!(error = %why, %client_message_id, "chat: no answer from todo-api in time");
                (
                    FieldErrors::general(
                        "Your message was sent, but the assistant has not answered yet; it may still be processing. Reload the page in a moment to see the reply.",
                    ),
                    true,
                    StatusCode::GATEWAY_TIMEOUT,
                )
            }
            ChatFailure::Api(ApiFailure::Rejected(r)) if r.code == "TURN_IN_PROGRESS" => (
                FieldErrors::general(
                    "This message is still being answered. Reload the page in a moment to see the reply.",
                ),
                true,
                StatusCode::CONFLICT,
            ),
            ChatFailure::Api(ApiFailure::Rejected(r)) => {
                let errors = if r.code == "CONVERSATION_NOT_FOUND" {
                    FieldErrors::general(
                        "That conversation no longer exists. Your message was not sent; start a new chat and send it again.",
                    )
                } else {
                    FieldErrors::from_rejection(&r)
                };
                let status =
                    StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                (errors, false, status)
            }
            ChatFailure::Api(ApiFailure::Unavailable(why)) => {
                tracing::warn!(error = %why, "chat: todo-api unavailable");
                // Not reached, or a 503 before the message could be stored (chat not
                // configured, database down). The one exception, the database failing
                // between storing the message and its reply, shows the message on reload.
                (
                    FieldErrors::general(
                        "The assistant is unavailable right now. Your message was not sent; try again in a moment.",
                    ),
                    true,
                    StatusCode::SERVICE_UNAVAILABLE,
                )
            }
            ChatFailure::Api(other) => return Err(other),
        };
        Ok(Refused {
            errors,
            retry,
            status,
        })
    }
}

/// `POST /chat/stream` (the page's script only): the reply as server-sent events for the
/// browser, in order:
///
/// - `text`: the next piece of the reply (a JSON string);
/// - `tool`: a tool call, as the chat log's HTML (a `<ul class="tools">`, a JSON string);
/// - `error`: what went wrong, in words (a JSON string);
/// - `done`: the page to load the stored turn from (a JSON string), last.
///
/// A refusal before the turn starts is a status without a stream (the script then posts the
/// form to [`send`], which explains it).
pub async fn stream(
    State(app): State<AppState>,
    SignedIn { session, token }: SignedIn,
    Form(form): Form<ChatInput>,
) -> Response {
    let m = Message::read(&form);
    if m.problem().is_some() {
        return not_streamed(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (events, zone) = tokio::join!(
        app.api
            .chat_stream(&token, m.conversation, &m.text, m.client_message_id),
        user_zone(&app.api, &token)
    );
    let mut events = match events {
        Ok(events) => events,
        Err(failure) => {
            let status = match &failure {
                ChatFailure::Api(ApiFailure::Rejected(r)) => {
                    StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST)
                }
                ChatFailure::Api(ApiFailure::Unauthorized(_)) => StatusCode::UNAUTHORIZED,
                ChatFailure::Api(ApiFailure::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
                ChatFailure::NoAnswer(_) => StatusCode::GATEWAY_TIMEOUT,
            };
            tracing::info!(error = ?failure, "chat stream not started; the script posts the form instead");
            return not_streamed(status);
        }
    };
    // The first event names the conversation of a turn that runs: remembered like `send`
    // does, in this response's headers.
    let first = events.next().await;
    let conversation = match &first {
        Ok(Some(ChatEvent::Start(id))) => Some(*id),
        _ => None,
    };
    let relay = Relay {
        events,
        first: Some(first),
        message: m,
        zone,
        now: OffsetDateTime::now_utc(),
        conversation,
        ended: false,
    };
    let body = futures::stream::unfold(relay, |mut relay| async move {
        let out = relay.step().await?;
        Some((futures::stream::iter(out), relay))
    })
    .flatten()
    .map(Ok::<_, std::convert::Infallible>);
    let mut r = Sse::new(body)
        .keep_alive(KeepAlive::default())
        .into_response();
    let headers = r.headers_mut();
    // Proxies that buffer responses (ingress-nginx does by default) would hold it back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Some(id) = conversation {
        headers.append(header::SET_COOKIE, remember(&session, id));
    }
    r
}

fn not_streamed(status: StatusCode) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        "not streamed: post the chat form to /chat",
    )
        .into_response()
}

/// The API's events, turned into the browser's.
struct Relay {
    events: ChatEvents,
    /// The event read before the response started.
    first: Option<Result<Option<ChatEvent>, String>>,
    message: Message,
    zone: UserZone,
    now: OffsetDateTime,
    conversation: Option<Uuid>,
    ended: bool,
}

impl Relay {
    /// The browser's next events; `None` once `done` went out.
    async fn step(&mut self) -> Option<Vec<Event>> {
        if self.ended {
            return None;
        }
        let next = match self.first.take() {
            Some(first) => first,
            None => self.events.next().await,
        };
        let event = match next {
            Ok(Some(event)) => event,
            Ok(None) => return Some(self.cut_off("the stream ended without its last event")),
            Err(why) => return Some(self.cut_off(&why)),
        };
        Some(match event {
            ChatEvent::Start(id) => {
                self.conversation = Some(id);
                Vec::new()
            }
            ChatEvent::Delta(text) => vec![browser_event("text", &text)],
            ChatEvent::Tool(call) => {
                let view = ToolView::at(&call, self.now, &self.zone);
                match (ToolItem { t: &view }).render() {
                    Ok(html) => vec![browser_event(
                        "tool",
                        &format!("<ul class=\"tools\">{html}</ul>"),
                    )],
                    Err(e) => {
                        tracing::error!(error = %e, "rendering a tool call failed");
                        Vec::new()
                    }
                }
            }
            ChatEvent::Error(e) => vec![browser_event("error", &e.message)],
            ChatEvent::Done(turn) => {
                self.ended = true;
                vec![browser_event(
                    "done",
                    &self.message.page(turn.conversation_id),
                )]
            }
        })
    }

    /// The API's stream broke off: say so, and point at the page, where the stored reply
    /// shows once the turn (which goes on in the API) is done.
    fn cut_off(&mut self, why: &str) -> Vec<Event> {
        tracing::warn!(error = %why, "the chat stream from todo-api broke off");
        self.ended = true;
        let page = match self.conversation {
            Some(id) => self.message.page(id),
            None => self.message.state.url(),
        };
        vec![
            browser_event(
                "error",
                "The connection to the assistant broke off. Your message was sent; reload the page in a moment to see the reply.",
            ),
            browser_event("done", &page),
        ]
    }
}

/// An event whose data is one JSON string (so line breaks in it cannot end the event).
fn browser_event(name: &'static str, text: &str) -> Event {
    let data = serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned());
    Event::default().event(name).data(data)
}
