"""The same pipeline, as the platform this project grew out of generated it, and now.

BEFORE: every generated pipeline fetched its secret by hand and built credentials:

    import hvac
    from dlt.sources.credentials import ConnectionStringCredentials

    client = hvac.Client(url=os.environ["VAULT_ADDR"], token=os.environ["VAULT_TOKEN"])
    secret = client.secrets.kv.v2.read_secret_version(path="db/orders_pg", mount_point="main")
    data = secret["data"]["data"]
    credentials = ConnectionStringCredentials(
        f"postgresql://{data['username']}:{data['password']}@{data['host']}:{data['port']}"
        f"/{data['database']}"                      # breaks on a password with '@' or '/'
    )
    source = sql_database(credentials=credentials)  # and one Vault call per pipeline file

AFTER: nothing. The entry is registered once (dlt-vault put db orders_pg ... or the form),
the binding says which entry this source uses, and dlt resolves it:
"""

import dlt
from dlt.sources.sql_database import sql_database

pipeline = dlt.pipeline("orders", destination="duckdb", dataset_name="orders")

if __name__ == "__main__":
    # .dlt/config.toml:  [vault.bindings]  "sources.sql_database" = "db/orders_pg"
    print(pipeline.run(sql_database()))
