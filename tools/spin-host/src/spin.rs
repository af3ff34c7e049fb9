//! Spin's host interfaces, from spin-sdk 7.0.0's own WIT: `spin:key-value@3.0.0`,
//! `spin:variables@3.0.0` and `wasi:keyvalue/{store,atomics}@0.2.0-draft2` (Spin serves both
//! key-value APIs from the same labelled stores). Stores live in memory and outlive instances;
//! each value carries a version, which is what compare-and-swap compares.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wasmtime::component::{Accessor, FutureReader, HasData, Linker, Resource, ResourceTable, StreamReader};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "local:spin-host/spin-imports",
        imports: {
            "spin:key-value/key-value.[method]store.get-keys": async | store | trappable,
        },
        with: {
            "spin:key-value/key-value.store": crate::spin::Label,
            "wasi:keyvalue/store.bucket": crate::spin::Label,
            "wasi:keyvalue/atomics.cas": crate::spin::CasHandle,
        },
    });
}

use bindings::spin::key_value::key_value as kv;
use bindings::spin::variables::variables as vars;
use bindings::wasi::keyvalue::{atomics, store as wkv};

/// An open store: its label.
pub struct Label(String);

/// A compare-and-swap in progress: the key and the version its value was read at.
pub struct CasHandle {
    label: String,
    key: String,
    version: u64,
    value: Option<Vec<u8>>,
}

/// (label, key) → (version, value); versions only grow.
type Values = HashMap<(String, String), (u64, Vec<u8>)>;

/// What every instance shares: variables and the stores.
pub struct SpinState {
    variables: HashMap<String, String>,
    labels: Vec<String>,
    data: Mutex<Values>,
    next_version: Mutex<u64>,
}

impl SpinState {
    pub fn new(variables: HashMap<String, String>, labels: Vec<String>) -> Self {
        SpinState { variables, labels, data: Mutex::new(HashMap::new()), next_version: Mutex::new(1) }
    }

    fn open(&self, label: &str) -> Result<Label, &'static str> {
        if self.labels.iter().any(|l| l == label) {
            Ok(Label(label.to_string()))
        } else {
            Err("access-denied")
        }
    }

    fn get(&self, label: &str, key: &str) -> Option<(u64, Vec<u8>)> {
        self.data.lock().unwrap().get(&(label.to_string(), key.to_string())).cloned()
    }

    fn bump(&self) -> u64 {
        let mut next = self.next_version.lock().unwrap();
        *next += 1;
        *next
    }

    fn set(&self, label: &str, key: &str, value: Vec<u8>) {
        let version = self.bump();
        self.data.lock().unwrap().insert((label.to_string(), key.to_string()), (version, value));
    }

    fn delete(&self, label: &str, key: &str) {
        self.data.lock().unwrap().remove(&(label.to_string(), key.to_string()));
    }

    fn keys(&self, label: &str) -> Vec<String> {
        let mut keys: Vec<String> =
            self.data.lock().unwrap().keys().filter(|(l, _)| l == label).map(|(_, k)| k.clone()).collect();
        keys.sort();
        keys
    }

    /// Stores `value` only if the key still has `version` (0: absent).
    fn swap(&self, label: &str, key: &str, version: u64, value: Vec<u8>) -> bool {
        let new_version = self.bump();
        let mut data = self.data.lock().unwrap();
        let entry = (label.to_string(), key.to_string());
        let current = data.get(&entry).map_or(0, |(v, _)| *v);
        if current != version {
            return false;
        }
        data.insert(entry, (new_version, value));
        true
    }
}

/// The borrowed view the generated host traits are implemented on.
pub struct SpinView<'a> {
    pub state: Arc<SpinState>,
    pub table: &'a mut ResourceTable,
}

pub struct Spin;

impl HasData for Spin {
    type Data<'a> = SpinView<'a>;
}

/// Links all four interfaces; `view` finds the state in a store's data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> SpinView<'_>,
) -> anyhow::Result<()> {
    kv::add_to_linker::<T, Spin>(linker, view)?;
    vars::add_to_linker::<T, Spin>(linker, view)?;
    wkv::add_to_linker::<T, Spin>(linker, view)?;
    atomics::add_to_linker::<T, Spin>(linker, view)?;
    Ok(())
}

fn label_of<T>(acc: &Accessor<T, Spin>, store: &Resource<Label>) -> Result<(String, Arc<SpinState>), kv::Error> {
    acc.with(|mut a| {
        let view = a.get();
        let label = view.table.get(store).map_err(|e| kv::Error::Other(e.to_string()))?.0.clone();
        Ok((label, view.state))
    })
}

impl kv::Host for SpinView<'_> {}

impl kv::HostStore for SpinView<'_> {
    fn drop(&mut self, store: Resource<Label>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl<T> kv::HostStoreWithStore<T> for Spin {
    async fn open(acc: &Accessor<T, Self>, label: String) -> Result<Resource<Label>, kv::Error> {
        acc.with(|mut a| {
            let view = a.get();
            let label = view.state.open(&label).map_err(|_| kv::Error::AccessDenied)?;
            view.table.push(label).map_err(|e| kv::Error::Other(e.to_string()))
        })
    }

    async fn get(acc: &Accessor<T, Self>, store: Resource<Label>, key: String) -> Result<Option<Vec<u8>>, kv::Error> {
        let (label, state) = label_of(acc, &store)?;
        Ok(state.get(&label, &key).map(|(_, v)| v))
    }

    async fn set(
        acc: &Accessor<T, Self>,
        store: Resource<Label>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), kv::Error> {
        let (label, state) = label_of(acc, &store)?;
        state.set(&label, &key, value);
        Ok(())
    }

    async fn delete(acc: &Accessor<T, Self>, store: Resource<Label>, key: String) -> Result<(), kv::Error> {
        let (label, state) = label_of(acc, &store)?;
        state.delete(&label, &key);
        Ok(())
    }

    async fn exists(acc: &Accessor<T, Self>, store: Resource<Label>, key: String) -> Result<bool, kv::Error> {
        let (label, state) = label_of(acc, &store)?;
        Ok(state.get(&label, &key).is_some())
    }

    async fn get_keys(
        acc: &Accessor<T, Self>,
        store: Resource<Label>,
    ) -> wasmtime::Result<(StreamReader<String>, FutureReader<Result<(), kv::Error>>)> {
        let (label, state) = label_of(acc, &store).map_err(|e| wasmtime::format_err!("{e:?}"))?;
        let keys = state.keys(&label);
        acc.with(|mut a| {
            let stream = StreamReader::new(&mut a, keys)?;
            let done = FutureReader::new(&mut a, async { Ok::<_, wasmtime::Error>(Ok(())) })?;
            Ok((stream, done))
        })
    }
}

impl vars::Host for SpinView<'_> {}

impl<T> vars::HostWithStore<T> for Spin {
    async fn get(acc: &Accessor<T, Self>, name: String) -> Result<String, vars::Error> {
        acc.with(|mut a| a.get().state.variables.get(&name).cloned().ok_or(vars::Error::Undefined(name)))
    }
}

fn wkv_error(e: impl std::fmt::Display) -> wkv::Error {
    wkv::Error::Other(e.to_string())
}

impl wkv::Host for SpinView<'_> {
    fn open(&mut self, identifier: String) -> Result<Resource<Label>, wkv::Error> {
        let label = self.state.open(&identifier).map_err(|_| wkv::Error::AccessDenied)?;
        self.table.push(label).map_err(wkv_error)
    }
}

impl SpinView<'_> {
    fn label(&self, bucket: &Resource<Label>) -> Result<String, wkv::Error> {
        Ok(self.table.get(bucket).map_err(wkv_error)?.0.clone())
    }
}

impl wkv::HostBucket for SpinView<'_> {
    fn get(&mut self, bucket: Resource<Label>, key: String) -> Result<Option<Vec<u8>>, wkv::Error> {
        Ok(self.state.get(&self.label(&bucket)?, &key).map(|(_, v)| v))
    }

    fn set(&mut self, bucket: Resource<Label>, key: String, value: Vec<u8>) -> Result<(), wkv::Error> {
        self.state.set(&self.label(&bucket)?, &key, value);
        Ok(())
    }

    fn delete(&mut self, bucket: Resource<Label>, key: String) -> Result<(), wkv::Error> {
        self.state.delete(&self.label(&bucket)?, &key);
        Ok(())
    }

    fn exists(&mut self, bucket: Resource<Label>, key: String) -> Result<bool, wkv::Error> {
        Ok(self.state.get(&self.label(&bucket)?, &key).is_some())
    }

    fn list_keys(&mut self, bucket: Resource<Label>, _cursor: Option<String>) -> Result<wkv::KeyResponse, wkv::Error> {
        Ok(wkv::KeyResponse { keys: self.state.keys(&self.label(&bucket)?), cursor: None })
    }

    fn drop(&mut self, bucket: Resource<Label>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for SpinView<'_> {
    fn increment(&mut self, bucket: Resource<Label>, key: String, delta: i64) -> Result<i64, wkv::Error> {
        let label = self.label(&bucket)?;
        loop {
            let (version, value) = self.state.get(&label, &key).unwrap_or((0, Vec::new()));
            let old: i64 = if value.is_empty() {
                0
            } else {
                std::str::from_utf8(&value)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| wkv_error("not an integer"))?
            };
            let new = old + delta;
            if self.state.swap(&label, &key, version, new.to_string().into_bytes()) {
                return Ok(new);
            }
        }
    }

    fn swap(&mut self, cas: Resource<CasHandle>, value: Vec<u8>) -> Result<(), atomics::CasError> {
        let handle = self.table.delete(cas).map_err(|e| atomics::CasError::StoreError(wkv_error(e)))?;
        if self.state.swap(&handle.label, &handle.key, handle.version, value) {
            return Ok(());
        }
        // Lost the race: hand back a handle at the latest version for a retry.
        let (version, value) = self.state.get(&handle.label, &handle.key).map_or((0, None), |(v, d)| (v, Some(d)));
        let newer = CasHandle { version, value, ..handle };
        let newer = self.table.push(newer).map_err(|e| atomics::CasError::StoreError(wkv_error(e)))?;
        Err(atomics::CasError::CasFailed(newer))
    }
}

impl atomics::HostCas for SpinView<'_> {
    fn new(&mut self, bucket: Resource<Label>, key: String) -> Result<Resource<CasHandle>, wkv::Error> {
        let label = self.label(&bucket)?;
        let (version, value) = self.state.get(&label, &key).map_or((0, None), |(v, d)| (v, Some(d)));
        self.table.push(CasHandle { label, key, version, value }).map_err(wkv_error)
    }

    fn current(&mut self, cas: Resource<CasHandle>) -> Result<Option<Vec<u8>>, wkv::Error> {
        Ok(self.table.get(&cas).map_err(wkv_error)?.value.clone())
    }

    fn drop(&mut self, cas: Resource<CasHandle>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}
