//! What a turn reports while it runs, for clients that show the reply as it is written
//! (todo-api's `POST /api/chat/stream`): the user's message was stored, each piece of the
//! reply's text, each tool call as soon as it returned. The turn itself does not depend on
//! anyone listening: a sink whose receiver is gone (the browser went away) drops the events
//! and the turn runs to its end and is stored as usual.

use crate::engine::ToolCall;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;
use uuid::Uuid;

/// One thing that happened during a turn, in the order it happened.
#[derive(Debug, Clone, PartialEq)]
pub enum TurnEvent {
    /// The user's message is stored and the engine starts (the first event of every turn
    /// that runs; a replayed answer has none).
    Accepted { conversation_id: Uuid },
    /// The next piece of the reply's text.
    Delta(String),
    /// A tool call, with its result, as soon as it returned.
    Tool(ToolCall),
}

/// Where a turn's events go: nowhere ([`TurnEvents::none`]) or a channel. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TurnEvents {
    tx: Option<mpsc::UnboundedSender<TurnEvent>>,
    /// Whether any text went out, so an engine that answers in one piece (the built-in one)
    /// still gets its answer sent, once.
    text_sent: Arc<AtomicBool>,
}

impl TurnEvents {
    /// Events nobody listens to (the plain JSON `POST /api/chat`).
    pub fn none() -> TurnEvents {
        TurnEvents::default()
    }

    /// A sink and the receiver of its events. Unbounded: a turn's events are few and small
    /// (text pieces and at most a few rounds of tool calls), and a slow reader must never
    /// slow the turn down.
    pub fn channel() -> (TurnEvents, mpsc::UnboundedReceiver<TurnEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            TurnEvents {
                tx: Some(tx),
                text_sent: Arc::default(),
            },
            rx,
        )
    }

    pub fn send(&self, event: TurnEvent) {
        if let TurnEvent::Delta(text) = &event {
            if text.is_empty() {
                return;
            }
            self.text_sent.store(true, Ordering::Relaxed);
        }
        if let Some(tx) = &self.tx {
            // A receiver that is gone (the client left) is not the turn's problem.
            let _ = tx.send(event);
        }
    }

    /// The next piece of the reply's text.
    pub fn delta(&self, text: &str) {
        self.send(TurnEvent::Delta(text.to_owned()));
    }

    /// Whether any text went out.
    pub fn text_sent(&self) -> bool {
        self.text_sent.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_arrive_in_order_and_a_gone_receiver_is_harmless() {
        let (events, mut rx) = TurnEvents::channel();
        assert!(!events.text_sent());
        events.delta("");
        assert!(!events.text_sent(), "empty pieces are not sent");
        events.delta("Hel");
        events.clone().delta("lo");
        assert!(events.text_sent());
        assert_eq!(rx.try_recv().ok(), Some(TurnEvent::Delta("Hel".into())));
        assert_eq!(rx.try_recv().ok(), Some(TurnEvent::Delta("lo".into())));
        assert!(rx.try_recv().is_err());
        drop(rx);
        events.delta("nobody listens");
        TurnEvents::none().delta("nor here");
    }
}
