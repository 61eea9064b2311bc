//! Talking to Kaltura: the KS algorithm shared by the client and the emulator.
pub mod ks;
