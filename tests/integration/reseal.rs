//! `make reseal-tokens`: after a key rotation every installation's tokens are sealed under
//! the current key, so the previous one can leave the secret; a second pass changes nothing.

use approvals_aws::cipher::TokenCipher;
use approvals_aws::dynamo::DynamoStore;
use approvals_core::domain::Installation;
use approvals_core::ports::TenantStore;
use approvals_core::secret::SecretToken;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use crate::common::{installation_of, unique};

fn installation(team_id: &str, refresh: bool) -> Installation {
    Installation {
        bot_refresh_token: refresh.then(|| SecretToken::new(format!("xoxe-1-{team_id}"))),
        bot_token_expires_at: refresh.then_some(1_764_043_200),
        ..installation_of(team_id, format!("xoxb-{team_id}-reseal"))
    }
}

#[tokio::test]
async fn a_rotated_key_reseals_every_installation_once() {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    // A table of its own: the pass re-seals everything in the table it is given.
    let table = unique("reseal-");
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .unwrap()
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(&table)
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let (old_key, new_key) = ([1_u8; 32], [2_u8; 32]);
    let before = DynamoStore::new(client.clone(), &table, TokenCipher::new(old_key));
    let teams = [unique("T"), unique("T"), unique("T")];
    for (index, team) in teams.iter().enumerate() {
        before
            .save_installation(&installation(team, index == 0))
            .await
            .unwrap();
    }

    let rotated = DynamoStore::new(
        client.clone(),
        &table,
        TokenCipher::with_previous(new_key, &[old_key]),
    );
    let first = rotated.reseal_tokens().await.unwrap();
    let second = rotated.reseal_tokens().await.unwrap();

    assert_eq!((first.installations, first.resealed), (3, 3), "{first:?}");
    assert_eq!((second.resealed, second.current), (0, 3), "{second:?}");
    // The old key can go: the new one alone opens every token.
    let only_new = DynamoStore::new(client, &table, TokenCipher::new(new_key));
    for (index, team) in teams.iter().enumerate() {
        let read = only_new.installation(team).await.unwrap().unwrap();
        let expected = installation(team, index == 0);
        assert_eq!(read.bot_token.expose(), expected.bot_token.expose());
        assert_eq!(
            read.bot_refresh_token.as_ref().map(SecretToken::expose),
            expected.bot_refresh_token.as_ref().map(SecretToken::expose)
        );
    }
}
