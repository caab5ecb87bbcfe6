//! The OpenAPI 3.1 description of the API, served at `/api/openapi.json`.
//!
//! Written by hand next to the handlers (no macro layer over every handler); a test checks
//! that every documented operation is routed, and the end-to-end tests exercise the shapes.

use axum::Json;
use serde_json::{Value, json};

pub async fn document() -> Json<Value> {
    Json(spec())
}

fn error_responses(codes: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for code in codes {
        out.insert(
            (*code).to_owned(),
            json!({ "$ref": format!("#/components/responses/E{code}") }),
        );
    }
    Value::Object(out)
}

fn with_errors(mut ok: Value, codes: &[&str]) -> Value {
    if let (Some(map), Value::Object(errors)) = (ok.as_object_mut(), error_responses(codes)) {
        map.extend(errors);
    }
    ok
}

fn task_ref() -> Value {
    json!({ "$ref": "#/components/schemas/Task" })
}

fn id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": "Task UUID or the user's task number",
            "schema": { "type": "string" } })
}

pub fn spec() -> Value {
    let secured = json!([{ "bearer": [] }]);
    let task_ok = json!({ "200": { "description": "The task", "content": { "application/json": { "schema": task_ref() } } } });
    let query = |name: &str, schema: Value, description: &str| json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description });
    json!({
        "openapi": "3.1.0",
        "info": { "title": "todo-chatbot API", "version": crate::VERSION,
                  "description": "Tasks, auth and chat for todo-chatbot. Errors always have the shape {\"error\":{\"code\",\"message\",\"field\"}}." },
        "servers": [{ "url": "/" }],
        "paths": {
            "/api/auth/register": { "post": {
                "summary": "Create an account", "operationId": "register",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/RegisterRequest" } } } },
                "responses": with_errors(json!({ "201": { "description": "Created", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Session" } } } } }), &["400", "409", "413", "415", "422"])
            }},
            "/api/auth/login": { "post": {
                "summary": "Log in", "operationId": "login",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/LoginRequest" } } } },
                "responses": with_errors(json!({ "200": { "description": "Logged in", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Session" } } } } }), &["400", "401", "422", "429"])
            }},
            "/api/auth/me": { "get": {
                "summary": "The current user", "operationId": "me", "security": secured,
                "responses": with_errors(json!({ "200": { "description": "The user", "content": { "application/json": { "schema": { "type": "object", "properties": { "user": { "$ref": "#/components/schemas/User" } } } } } } }), &["401"])
            }},
            "/api/tasks": {
                "get": {
                    "summary": "List tasks", "operationId": "listTasks", "security": secured,
                    "parameters": [
                        query("status", json!({ "enum": ["all", "pending", "completed"], "default": "all" }), "Completion filter"),
                        query("priority", json!({ "enum": ["low", "medium", "high"] }), "Priority filter"),
                        query("tag", json!({ "type": "string" }), "Only tasks with this tag"),
                        query("q", json!({ "type": "string" }), "Search in title and description"),
                        query("due_before", json!({ "type": "string" }), "Due strictly before (ISO 8601 date or date-time)"),
                        query("due_after", json!({ "type": "string" }), "Due at or after (ISO 8601 date or date-time)"),
                        query("sort", json!({ "enum": ["created_at", "updated_at", "due_at", "priority", "title"], "default": "created_at" }), "Sort key"),
                        query("order", json!({ "enum": ["asc", "desc"], "default": "desc" }), "Sort order"),
                        query("limit", json!({ "type": "integer", "minimum": 1, "maximum": 200, "default": 50 }), "Page size"),
                        query("offset", json!({ "type": "integer", "minimum": 0 }), "Rows to skip (or use cursor)"),
                        query("cursor", json!({ "type": "string" }), "next_cursor from the previous page")
                    ],
                    "responses": with_errors(json!({ "200": { "description": "A page of tasks", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TaskPage" } } } } }), &["400", "401", "422"])
                },
                "post": {
                    "summary": "Create a task", "operationId": "createTask", "security": secured,
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CreateTask" } } } },
                    "responses": with_errors(json!({ "201": { "description": "Created", "content": { "application/json": { "schema": task_ref() } } } }), &["400", "401", "413", "415", "422"])
                }
            },
            "/api/tasks/{id}": {
                "parameters": [id_param()],
                "get": { "summary": "Get a task", "operationId": "getTask", "security": secured, "responses": with_errors(task_ok.clone(), &["401", "404", "422"]) },
                "patch": {
                    "summary": "Update a task (absent keeps, null clears description/due_at/tags)", "operationId": "updateTask", "security": secured,
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/UpdateTask" } } } },
                    "responses": with_errors(task_ok.clone(), &["400", "401", "404", "413", "415", "422"])
                },
                "delete": { "summary": "Delete a task", "operationId": "deleteTask", "security": secured,
                            "responses": with_errors(json!({ "204": { "description": "Deleted" } }), &["401", "404", "422"]) }
            },
            "/api/tasks/{id}/complete": { "parameters": [id_param()], "post": { "summary": "Mark done", "operationId": "completeTask", "security": secured, "responses": with_errors(task_ok.clone(), &["401", "404", "422"]) } },
            "/api/tasks/{id}/reopen": { "parameters": [id_param()], "post": { "summary": "Mark not done", "operationId": "reopenTask", "security": secured, "responses": with_errors(task_ok, &["401", "404", "422"]) } },
            "/api/chat": { "post": {
                "summary": "One chat turn: the assistant manages tasks through MCP tools", "operationId": "chat", "security": secured,
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ChatRequest" } } } },
                "responses": with_errors(json!({ "200": { "description": "The reply (with `error` when the engine or tools failed; the message is stored either way)",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ChatTurn" } } } } }), &["400", "401", "404", "413", "415", "422"])
            }},
            "/api/conversations": { "get": {
                "summary": "The user's conversations, most recent first", "operationId": "listConversations", "security": secured,
                "responses": with_errors(json!({ "200": { "description": "Conversations", "content": { "application/json": { "schema": {
                    "type": "object", "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Conversation" } } } } } } } }), &["401"])
            }},
            "/api/conversations/{id}": { "get": {
                "summary": "A conversation with its messages", "operationId": "getConversation", "security": secured,
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } }],
                "responses": with_errors(json!({ "200": { "description": "The conversation", "content": { "application/json": { "schema": {
                    "type": "object", "properties": { "conversation": { "$ref": "#/components/schemas/Conversation" },
                    "messages": { "type": "array", "items": { "$ref": "#/components/schemas/Message" } } } } } } } }), &["401", "404", "422"])
            }},
            "/api/openapi.json": { "get": { "summary": "This document", "operationId": "openapi", "responses": { "200": { "description": "OpenAPI 3.1 document" } } } },
            "/health": { "get": { "summary": "Detailed health", "operationId": "health", "responses": {
                "200": { "description": "Healthy", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Health" } } } },
                "503": { "description": "Unhealthy", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Health" } } } } } } },
            "/livez": { "get": { "summary": "Liveness (process only)", "operationId": "livez", "responses": { "200": { "description": "Alive" } } } },
            "/readyz": { "get": { "summary": "Readiness (database reachable, migrations applied, not shutting down)", "operationId": "readyz",
                                 "responses": { "200": { "description": "Ready" }, "503": { "description": "Not ready" } } } }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "responses": {
                "E400": { "description": "Malformed request", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "E401": { "description": "Missing, invalid or expired token", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "E404": { "description": "No such task (or not yours)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "E409": { "description": "Conflict (e.g. email taken)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "E413": { "description": "Body too large", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "E415": { "description": "Body is not JSON", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "E422": { "description": "Invalid value; `field` names it", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
                "E429": { "description": "Too many login attempts", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            },
            "schemas": {
                "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                    "code": { "type": "string", "examples": ["VALIDATION_ERROR"] }, "message": { "type": "string" }, "field": { "type": "string" } } } } },
                "User": { "type": "object", "required": ["id", "email", "name", "created_at"], "properties": {
                    "id": { "type": "string", "format": "uuid" }, "email": { "type": "string" }, "name": { "type": "string" }, "created_at": { "type": "string", "format": "date-time" } } },
                "Session": { "type": "object", "required": ["user", "token"], "properties": {
                    "user": { "$ref": "#/components/schemas/User" }, "token": { "type": "string" }, "token_type": { "const": "Bearer" }, "expires_in": { "type": "integer" } } },
                "RegisterRequest": { "type": "object", "additionalProperties": false, "required": ["email", "password", "name"], "properties": {
                    "email": { "type": "string", "maxLength": 254 }, "password": { "type": "string", "minLength": 8, "maxLength": 1024 }, "name": { "type": "string", "minLength": 1, "maxLength": 100 } } },
                "LoginRequest": { "type": "object", "additionalProperties": false, "required": ["email", "password"], "properties": {
                    "email": { "type": "string" }, "password": { "type": "string" } } },
                "Priority": { "enum": ["low", "medium", "high"] },
                "Task": { "type": "object", "required": ["id", "number", "title", "completed", "priority", "tags", "created_at", "updated_at"], "properties": {
                    "id": { "type": "string", "format": "uuid" }, "number": { "type": "integer", "description": "The user's task number" },
                    "title": { "type": "string" }, "description": { "type": ["string", "null"] }, "completed": { "type": "boolean" },
                    "completed_at": { "type": ["string", "null"], "format": "date-time" }, "priority": { "$ref": "#/components/schemas/Priority" },
                    "due_at": { "type": ["string", "null"], "format": "date-time" }, "tags": { "type": "array", "items": { "type": "string" } },
                    "created_at": { "type": "string", "format": "date-time" }, "updated_at": { "type": "string", "format": "date-time" } } },
                "CreateTask": { "type": "object", "additionalProperties": false, "required": ["title"], "properties": {
                    "title": { "type": "string", "minLength": 1, "maxLength": 200 }, "description": { "type": ["string", "null"], "maxLength": 1000 },
                    "priority": { "$ref": "#/components/schemas/Priority" }, "due_at": { "type": ["string", "null"], "description": "ISO 8601 date or date-time" },
                    "tags": { "type": ["array", "null"], "maxItems": 10, "items": { "type": "string", "minLength": 1, "maxLength": 32 } } } },
                "UpdateTask": { "type": "object", "additionalProperties": false, "minProperties": 1, "properties": {
                    "title": { "type": "string", "minLength": 1, "maxLength": 200 }, "description": { "type": ["string", "null"], "maxLength": 1000 },
                    "priority": { "$ref": "#/components/schemas/Priority" }, "due_at": { "type": ["string", "null"] },
                    "tags": { "type": ["array", "null"], "maxItems": 10, "items": { "type": "string" } }, "completed": { "type": "boolean" } } },
                "TaskPage": { "type": "object", "required": ["items", "total", "limit", "has_more"], "properties": {
                    "items": { "type": "array", "items": task_ref() }, "total": { "type": "integer" }, "limit": { "type": "integer" },
                    "offset": { "type": ["integer", "null"] }, "next_cursor": { "type": ["string", "null"] }, "has_more": { "type": "boolean" } } },
                "ChatRequest": { "type": "object", "additionalProperties": false, "required": ["message"], "properties": {
                    "conversation_id": { "type": ["string", "null"], "format": "uuid", "description": "Omit to start a new conversation" },
                    "message": { "type": "string", "minLength": 1, "maxLength": 2000 } } },
                "ToolCall": { "type": "object", "required": ["tool", "arguments", "result"], "properties": {
                    "tool": { "type": "string" }, "arguments": {}, "result": {}, "is_error": { "type": "boolean" } } },
                "ChatTurn": { "type": "object", "required": ["conversation_id", "response", "tool_calls", "engine"], "properties": {
                    "conversation_id": { "type": "string", "format": "uuid" }, "response": { "type": "string" },
                    "tool_calls": { "type": "array", "items": { "$ref": "#/components/schemas/ToolCall" } },
                    "engine": { "enum": ["builtin", "llm"] },
                    "error": { "type": "object", "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } },
                "Conversation": { "type": "object", "required": ["id", "title", "created_at", "updated_at"], "properties": {
                    "id": { "type": "string", "format": "uuid" }, "title": { "type": "string" },
                    "created_at": { "type": "string", "format": "date-time" }, "updated_at": { "type": "string", "format": "date-time" } } },
                "Message": { "type": "object", "required": ["id", "role", "content", "created_at"], "properties": {
                    "id": { "type": "integer" }, "conversation_id": { "type": "string", "format": "uuid" }, "role": { "enum": ["user", "assistant", "tool"] },
                    "content": { "type": "string" }, "tool_calls": { "type": ["array", "null"], "items": { "$ref": "#/components/schemas/ToolCall" } },
                    "created_at": { "type": "string", "format": "date-time" } } },
                "Health": { "type": "object", "required": ["status", "service", "version", "timestamp", "checks"], "properties": {
                    "status": { "enum": ["healthy", "unhealthy"] }, "service": { "type": "string" }, "version": { "type": "string" },
                    "timestamp": { "type": "string", "format": "date-time" }, "checks": { "type": "object", "additionalProperties": { "enum": ["ok", "failed"] } } } }
            }
        }
    })
}
