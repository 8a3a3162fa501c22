//! Test-only provider `echo` 2.0.0: asks for HTTP to one more host than 1.0.0.

const VERSION: &str = "2.0.0";
const HTTP_HOSTS: &[&str] = &["https://echo.example.com", "https://telemetry.example.com"];

include!("../../echo/echo.rs");
